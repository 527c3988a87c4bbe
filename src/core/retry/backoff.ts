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
