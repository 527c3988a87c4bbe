import { sfString } from '../../core/failure/structured-field.ts';

/**
 * Why the cache forwarded a request (RFC 9211 §2.2): the stored answer was not there (uri-miss),
 * was another variant (vary-miss), was stale (stale), the request's own directives asked for
 * the upstream (request), its method is not one a cache answers (method), or the cache does
 * not handle this request at all (bypass).
 */
export type ForwardReason = 'uri-miss' | 'vary-miss' | 'stale' | 'request' | 'method' | 'bypass';

/**
 * `Cache-Status` for an answer the upstream made (RFC 9211): `edge-1; fwd=uri-miss`, with what
 * the upstream said; `detail` says why a request was bypassed where fwd alone would not
 * (`edge-1; fwd=bypass; detail="method-override"`).
 */
export function forwardedStatus(gateway: string, fwd: ForwardReason, detail?: string): string {
  return detail === undefined
    ? `${gateway}; fwd=${fwd}`
    : `${gateway}; fwd=${fwd}; detail=${sfString(detail)}`;
}

/**
 * `Cache-Status` for a stored answer given as it is: `edge-1; hit; ttl=42`; or, to a request that
 * waited for another's fetch of its key (`collapsedFrom`: why it would have gone forward), what
 * that fetch brought, which is no hit (RFC 9211 §2.1: a hit is "not forwarded") but a forward
 * request collapsed with another (§2.6; §3's "miss that was collapsed with another request") —
 * `edge-1; fwd=uri-miss; ttl=42; collapsed`.
 */
export function storedStatus(gateway: string, ttl: number, collapsedFrom?: ForwardReason): string {
  if (collapsedFrom === undefined) return `${gateway}; hit; ttl=${ttl}`;
  return `${gateway}; fwd=${collapsedFrom}; ttl=${ttl}; collapsed`;
}

/**
 * `Cache-Status` for a stale stored answer given at once while the cache refreshes it in the
 * background (stale-while-revalidate): a hit, stale, and a request forwarded for that —
 * `edge-1; hit; fwd=stale; ttl=-3`.
 */
export function revalidatingStatus(gateway: string, ttl: number): string {
  return `${gateway}; hit; fwd=stale; ttl=${ttl}`;
}

/**
 * `Cache-Status` for a stored answer the upstream confirmed (a 304 to the cache's own
 * validators): the `forwarded` one (forwardedStatus) the request went upstream with, saying why
 * (a stale answer, or the client's own directives), and what came back —
 * `edge-1; fwd=stale; fwd-status=304; ttl=60`.
 */
export function revalidatedStatus(forwarded: string, ttl: number): string {
  return `${forwarded}; fwd-status=304; ttl=${ttl}`;
}

/**
 * `Cache-Status` for a stored answer given because the upstream failed (RFC 9211 with RFC 5861's
 * stale-if-error): the status the failure would have been answered with, and what it was —
 * `edge-1; hit; fwd=stale; fwd-status=502; ttl=-30; detail="connection_refused"`. A stored
 * answer still fresh (`fresh`) went upstream for the client's own directives (a `max-age=0`):
 * `fwd=request`, RFC 9211 §2.2's "a fresh response" the request "did not allow", not `stale`.
 */
export function staleStatus(
  gateway: string,
  fwdStatus: number,
  ttl: number,
  detail: string | undefined,
  fresh = false,
): string {
  const named = detail === undefined ? '' : `; detail=${sfString(detail)}`;
  return `${gateway}; hit; fwd=${fresh ? 'request' : 'stale'}; fwd-status=${fwdStatus}; ttl=${ttl}${named}`;
}
