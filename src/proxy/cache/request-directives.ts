import type { FieldMap } from '../../core/net/downstream.ts';
import type { ForwardReason } from './cache-status.ts';
import { outsideQuotes } from './directive-case.ts';
import { asksUpstream } from './freshness.ts';
import type { CacheRequest, StoredAnswer } from './stored-answer.ts';

/**
 * What a client's request asks of the route's cache beyond the stored answer's own policy
 * (RFC 9111 §5.2.1): to go upstream anyway, or with validators of its own; and the validators
 * a revalidation of a stored answer sends.
 */

/**
 * Why a request the store does not answer as it is goes upstream (RFC 9211 §2.2's fwd): a fresh
 * stored answer the request's own directives refused (`max-age=N` it is older than, `min-fresh`,
 * `no-cache`) is `request`, as is any with the client's no-cache or max-age=0; a stale one, `stale`.
 */
export function forwardReason(stored: StoredAnswer | undefined, request: CacheRequest): ForwardReason {
  if (stored === undefined) return 'uri-miss';
  if (!stored.matches(request)) return 'vary-miss';
  return stored.fresh() || asksUpstream(request) ? 'request' : 'stale';
}

/**
 * The client wants a stored answer or none (RFC 9111 §5.2.1.7: `only-if-cached`): it never waits
 * on the origin, not even for a fetch of its key already under way (the 504 at once). A background
 * refresh the gateway makes from a client's request (`refresh` set) is its own, and asks the upstream.
 */
export function onlyIfCached(fields: FieldMap, refresh: unknown): boolean {
  const cc = fields['cache-control'];
  return (
    refresh === undefined &&
    cc !== undefined &&
    /(^|[\s,])only-if-cached([\s,]|$)/i.test(outsideQuotes(String(cc)))
  );
}

/** The client sent validators of its own: its conditional goes upstream as it is, and its 304 back to it. */
export function conditional(request: CacheRequest): boolean {
  return request.headers['if-none-match'] !== undefined || request.headers['if-modified-since'] !== undefined;
}

/** The stored answer's validators, as request fields (RFC 9111 §4.3.1). */
export function validatorsOf(stored: StoredAnswer, request: CacheRequest): string[] {
  const headers = stored.policy.revalidationHeaders(request);
  const out: string[] = [];
  for (const name of ['if-none-match', 'if-modified-since']) {
    const value = headers[name];
    if (typeof value === 'string' && value !== '') out.push(name, value);
  }
  return out;
}

/** Two copies of one answer (one read again from the disk) send the same validators for this request. */
export function sameValidators(a: StoredAnswer, b: StoredAnswer, request: CacheRequest): boolean {
  const mine = validatorsOf(a, request);
  const theirs = validatorsOf(b, request);
  return mine.length === theirs.length && mine.every((field, i) => field === theirs[i]);
}
