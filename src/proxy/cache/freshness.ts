import CachePolicy from 'http-cache-semantics';
import type { CacheConfig } from '../../core/config/route-config.ts';
import { unreadableAge } from './age-field.ts';
import { lowerDirectiveNames, outsideQuotes } from './directive-case.ts';
import { datesRead } from './field-dates.ts';

/**
 * How a stored answer may answer a request as it is: `fresh`, `while-revalidating` (stale within
 * its stale-while-revalidate window: given, and refreshed behind it), or undefined (the request
 * goes upstream first).
 */
export type Reuse = 'fresh' | 'while-revalidating' | undefined;

/** The directives that bind a stored answer once it is stale, and only then (RFC 9111 §5.2.2.2, §5.2.2.8). */
const ONCE_STALE = ['must-revalidate', 'proxy-revalidate'];

/**
 * Whether a stale answer of these response directives must be validated before any use, in a
 * shared cache (RFC 9111 §4.2.4): must-revalidate, proxy-revalidate, `s-maxage` (which
 * "incorporates the semantics of the proxy-revalidate response directive" for a shared cache,
 * §5.2.2.10), or no-cache (stale at once). Such an answer is never given stale: not within its
 * stale-while-revalidate, not to a client's max-stale, not for a failed upstream.
 */
export function boundOnceStale(rescc: Readonly<Record<string, unknown>>): boolean {
  return (
    'must-revalidate' in rescc || 'proxy-revalidate' in rescc || 's-maxage' in rescc || 'no-cache' in rescc
  );
}

/**
 * A stored answer's freshness: the policy it is read from, and whether a stale answer must be
 * validated before any use (`bound`: boundOnceStale).
 */
export interface Freshness {
  readonly policy: CachePolicy;
  readonly bound: boolean;
}

/**
 * The longest heuristic freshness (seconds): an answer with no max-age, s-maxage or Expires is
 * fresh for 10% of its Last-Modified's age (the library's, RFC 9111 §4.2.2's example), which
 * grows without bound: a file last changed 10 years ago stayed fresh for a year, whatever was
 * changed upstream meanwhile. §4.2.2 leaves the bound to the cache; a day is the common one.
 */
export const HEURISTIC_CAP = 86_400;

/** The directives of ONCE_STALE these have. */
function onceStaleOf(rescc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(ONCE_STALE.filter((name) => name in rescc).map((name) => [name, rescc[name]]));
}

/**
 * What a route's cache config grants its stored answers (routes[].cache): the cap of their
 * stale-if-error window (ms), the lifetimes it gives by status and whether they stand in place
 * of the origin's, and the stale-while-revalidate it gives one that names none.
 */
export type CacheGrants = Pick<
  CacheConfig,
  'staleIfError' | 'lifetimes' | 'overrideOrigin' | 'staleWhileRevalidate'
>;

/** No lifetime nor stale-while-revalidate of the gateway's, and this cap of stale-if-error (ms). */
export function originOnly(staleIfError: number): CacheGrants {
  return { staleIfError, lifetimes: {}, overrideOrigin: false, staleWhileRevalidate: 0 };
}

/**
 * The freshness of an answer of this policy: read from the policy less `must-revalidate` and
 * `proxy-revalidate`. Both say what a cache must do once the answer is stale, nothing of a fresh
 * one, and http-cache-semantics reads more into them: it revalidates a `must-revalidate` answer on
 * every request, fresh or not, and takes `proxy-revalidate` for a shared cache's freshness of 0,
 * so `max-age=600, must-revalidate` sent every request upstream. A heuristic freshness past
 * HEURISTIC_CAP is read as that cap. What the route grants is read in too (`grants`): the
 * lifetime of its status where the origin gave none (or in place of the origin's, with
 * overrideOrigin), and its stale-while-revalidate where the answer names none and may be given
 * stale at all. An answer whose Age is no number of seconds is read as stale, and as old as its
 * time in the store (RFC 9111 §5.1). Only the freshness is read from the copy this makes: the stored fields (what goes
 * out) stay as they came. The same policy when none of this applies. An answer to a request with
 * Authorization that a shared cache may keep for its `must-revalidate` or `s-maxage` (RFC 9111
 * §3.5), which the copy may lack, is read as one the request's Authorization does not bar: the
 * library would judge the copy unstorable, its freshness 0, and `max-age=60, must-revalidate`
 * was never kept for such a request.
 */
export function freshnessOf(policy: CachePolicy, grants?: CacheGrants): Freshness {
  const stored = policy.toObject();
  let bound = boundOnceStale(stored.rescc);
  const rescc = { ...stored.rescc };
  // Its Expires, Date and Last-Modified as HTTP-dates alone (field-dates.ts).
  let resh = datesRead(stored.resh);
  let changed = resh !== stored.resh;
  for (const name of ONCE_STALE)
    if (name in rescc) {
      delete rescc[name];
      changed = true;
    }
  const explicit = 'max-age' in rescc || 's-maxage' in rescc || resh.expires !== undefined;
  const lifetime = grants?.lifetimes[stored.st];
  if (lifetime !== undefined && (grants?.overrideOrigin || !explicit)) {
    // s-maxage binds a stale answer only as the lifetime it came with (§5.2.2.10): one put in its place binds nothing.
    delete rescc['s-maxage'];
    bound = boundOnceStale({ ...rescc, ...onceStaleOf(stored.rescc) });
    if (resh.expires !== undefined) {
      resh = { ...resh };
      delete resh.expires;
    }
    rescc['max-age'] = String(lifetime);
    changed = true;
  } else if (!explicit && CachePolicy.fromObject({ ...stored, resh, rescc }).maxAge() > HEURISTIC_CAP) {
    rescc['max-age'] = String(HEURISTIC_CAP);
    changed = true;
  }
  // An Age that is no number of seconds: stale (RFC 9111 §5.1), as old as its time in the store.
  if (unreadableAge(resh)) {
    resh = { ...resh };
    delete resh.age;
    delete resh.expires;
    delete rescc['s-maxage'];
    rescc['max-age'] = '0';
    changed = true;
  }
  const swr = grants?.staleWhileRevalidate ?? 0;
  if (swr > 0 && !bound && !('stale-while-revalidate' in rescc)) {
    rescc['stale-while-revalidate'] = String(swr);
    changed = true;
  }
  // The library's `a`: the request had no Authorization (or, here, the origin allowed it).
  const authorized = !stored.a && ('must-revalidate' in stored.rescc || 's-maxage' in stored.rescc);
  if (!changed && !authorized) return { policy, bound };
  return { policy: CachePolicy.fromObject({ ...stored, resh, rescc, a: stored.a || authorized }), bound };
}

/**
 * How the answer may be reused for this request (the library's verdict on its freshness policy):
 * a bound one, once stale, is never given before a successful validation, not within
 * stale-while-revalidate, not to a client's `max-stale` (§5.2.2.2: "MUST NOT reuse that
 * response … until it has been successfully validated"; §5.2.2.4, no-cache, likewise), which the
 * library allows of no-cache, of proxy-revalidate and of s-maxage.
 */
export function reuseOf({ policy, bound }: Freshness, request: CachePolicy.Request): Reuse {
  const honoured = honouredFields(request);
  const verdict = policy.evaluateRequest(honoured);
  if (verdict.response === undefined) return undefined;
  // The library takes an answer of age 0 for a client's max-age=0 (§5.2.1.1 allows it): one
  // stored within the millisecond. Read as the reload it is, it asks the upstream every time.
  if (verdict.revalidation === undefined)
    return (bound && policy.stale()) || asksUpstream(request) ? undefined : 'fresh';
  return bound || boundsStaleness(honoured) ? undefined : 'while-revalidating';
}

/**
 * The client says how stale an answer it takes: `max-stale=N` (§5.2.1.2: "by no more than" N,
 * which the library has already found this one past), or `max-age` (§5.2.1.1: "unless the
 * max-stale request directive is also present, the client does not wish to receive a stale
 * response"). The library gave such a client the answer within stale-while-revalidate all the
 * same: RFC 5861 §3 lets the cache serve stale, not overrule the client that refuses it.
 */
function boundsStaleness(request: CachePolicy.Request): boolean {
  const cc = request.headers['cache-control'];
  if (cc === undefined) return false;
  const text = outsideQuotes(String(cc));
  // A max-stale without a number takes any staleness, with a max-age beside it or not.
  if (MAX_STALE_BOUNDED.test(text)) return true;
  return MAX_AGE.test(text) && !MAX_STALE.test(text);
}

const MAX_STALE_BOUNDED = /(?:^|[\s,])max-stale\s*=/i;
const MAX_STALE = /(?:^|[\s,])max-stale\b/i;
const MAX_AGE = /(?:^|[\s,])max-age\b/i;

/**
 * The request as the store's policy reads it: its Pragma ignored when it has Cache-Control
 * (RFC 9111 §5.4: Pragma stands for `no-cache` only where Cache-Control is absent), which
 * http-cache-semantics obeys in any case, so `Cache-Control: max-stale` with an HTTP/1.0 cache's
 * `Pragma: no-cache` beside it would go upstream; its directives named in lowercase (§5.2:
 * the library missed a client's `No-Cache`, and a `Pragma: No-Cache`); and none read inside
 * another's quotes (outsideQuotes).
 */
function honouredFields(request: CachePolicy.Request): CachePolicy.Request {
  const { headers } = request;
  const cc = headers['cache-control'];
  // Alone, its no-cache is read as the directive is: case-insensitively (§5.4's ABNF).
  if (cc === undefined)
    return headers.pragma === undefined
      ? request
      : { ...request, headers: { ...headers, pragma: String(headers.pragma).toLowerCase() } };
  const { pragma: _ignored, ...rest } = headers;
  // A quoted argument's separators out of the way: the library parts directives at every comma.
  return {
    ...request,
    headers: { ...rest, 'cache-control': lowerDirectiveNames(outsideQuotes(String(cc))) },
  };
}

/** The request's own directives ask for the upstream (no-cache, max-age=0): it is forwarded for that. */
export function asksUpstream(request: Pick<CachePolicy.Request, 'headers'>): boolean {
  const cc = request.headers['cache-control'];
  if (cc === undefined) return NO_CACHE.test(String(request.headers.pragma ?? ''));
  const text = outsideQuotes(String(cc));
  return NO_CACHE.test(text) || /(^|[\s,])max-age\s*=\s*"?0+"?\s*(,|$)/i.test(text);
}

/** `no-cache` as a directive of its own (not a part of an extension's name). */
const NO_CACHE = /(^|[\s,])no-cache([\s,=]|$)/i;
