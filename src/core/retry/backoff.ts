/**
 * Exponential backoff with full jitter: uniform in [0, min(max, base × 2^(retry−1))] ms (the
 * gateway's retries and candor/client's alike).
 */
export function backoffDelay(
  policy: { readonly backoffBase: number; readonly backoffMax: number },
  retry: number,
): number {
  const cap = Math.min(policy.backoffMax, policy.backoffBase * 2 ** (retry - 1));
  return Math.random() * cap;
}

/**
 * `ms` spread uniformly by ±`by` of itself (0.2: 80–120 %), `random` giving the draw in [0, 1):
 * for a schedule that must keep its order of size, where full jitter could come back at once,
 * while many clients started together still drift apart.
 */
export function spread(ms: number, by: number, random: () => number = Math.random): number {
  return ms * (1 - by + 2 * by * random());
}

/** The most a wait a Retry-After asked for is spread by: a fifth of itself. */
const RETRY_AFTER_SPREAD = 0.2;

/**
 * The wait after a Retry-After of `ms`: the announced time, then up to a fifth of it more, never
 * more than `cap` (candor/client's `backoff.cap`). Never before it (RFC 9110 §10.2.3: how long
 * the client ought to wait); after it, because every process of a fleet told the same date (or
 * the same seconds at the same moment of an overload) would otherwise come back at one instant.
 */
export function afterRetryAfter(ms: number, cap: number, random: () => number = Math.random): number {
  return ms + random() * Math.min(ms * RETRY_AFTER_SPREAD, cap);
}
