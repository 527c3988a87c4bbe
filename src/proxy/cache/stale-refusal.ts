import type { FieldMap } from '../../core/net/downstream.ts';
import { trimOws } from '../../core/ows.ts';

/**
 * The client's own request refuses a stored answer standing in for a failed upstream (RFC 9111
 * §4.2.4: a stale answer only where the client or the origin permits it): `no-cache` (§5.2.1.4:
 * no stored answer without successful validation, and a failed upstream validated nothing;
 * `Pragma: no-cache` where no Cache-Control is sent, §5.4), or `max-stale=N` or
 * `stale-if-error=N` with the answer more than N seconds past its freshness (§5.2.1.2: the client
 * accepts no staler one; RFC 5861 §4: a request's stale-if-error is "the upper limit to
 * staleness" for that request). The client's stale-if-error only narrows the window: the origin's
 * own `stale-if-error` is the "other information" §4 defers to, the route's cap is the operator's,
 * and an answer past that window is not kept to be given. A freshness it prefers (`max-age`,
 * `min-fresh`) is no refusal: stale-if-error holds "regardless of other freshness information"
 * (RFC 5861 §4). Read on a failure's way only, never on a hit's.
 */
export function refusesStale(headers: FieldMap, staleness: number): boolean {
  const cc = headers['cache-control'];
  if (cc === undefined) return /(^|[\s,])no-cache([\s,]|$)/i.test(String(headers.pragma ?? ''));
  for (const directive of String(cc).split(',')) {
    const at = directive.indexOf('=');
    const name = trimOws(at === -1 ? directive : directive.slice(0, at)).toLowerCase();
    if (name === 'no-cache') return true;
    if ((name !== 'max-stale' && name !== 'stale-if-error') || at === -1) continue;
    const value = trimOws(directive.slice(at + 1)).replace(/^"(.*)"$/, '$1');
    // A value that is no number of seconds (delta-seconds) says nothing: the directive is ignored.
    if (/^\d+$/.test(value) && staleness > Number(value)) return true;
  }
  return false;
}
