import CachePolicy from 'http-cache-semantics';

/**
 * How a stored answer may answer a request as it is: `fresh`, `while-revalidating` (stale within
 * its stale-while-revalidate window: given, and refreshed behind it), or undefined (the request
 * goes upstream first).
 */
export type Reuse = 'fresh' | 'while-revalidating' | undefined;

/** The directives that bind a stored answer once it is stale, and only then (RFC 9111 §5.2.2.2, §5.2.2.8). */
const ONCE_STALE = ['must-revalidate', 'proxy-revalidate'];

/**
 * The policy an answer's freshness is read from: its own, less `must-revalidate` and
 * `proxy-revalidate`. Both say what a cache must do once the answer is stale, nothing of a fresh
 * one, and http-cache-semantics reads more into them: it revalidates a `must-revalidate` answer on
 * every request, fresh or not, and takes `proxy-revalidate` for a shared cache's freshness of 0,
 * so `max-age=600, must-revalidate` sent every request upstream. The same policy when it has neither.
 */
export function freshnessPolicy(policy: CachePolicy): CachePolicy {
  const stored = policy.toObject();
  if (!ONCE_STALE.some((name) => name in stored.rescc)) return policy;
  const rescc = { ...stored.rescc };
  for (const name of ONCE_STALE) delete rescc[name];
  return CachePolicy.fromObject({ ...stored, rescc });
}

/**
 * How the answer may be reused for this request (the library's verdict on `fresh`, the policy
 * freshnessPolicy made of `policy`): when `policy` has must-revalidate or proxy-revalidate, a
 * stale answer is never given before a successful validation, not within stale-while-revalidate,
 * not to a client's `max-stale` (§5.2.2.2: "MUST NOT reuse that response … until it has been
 * successfully validated").
 */
export function reuseOf(policy: CachePolicy, fresh: CachePolicy, request: CachePolicy.Request): Reuse {
  const verdict = fresh.evaluateRequest(request);
  if (verdict.response === undefined) return undefined;
  const bound = fresh !== policy;
  if (verdict.revalidation === undefined) return bound && fresh.stale() ? undefined : 'fresh';
  return bound ? undefined : 'while-revalidating';
}
