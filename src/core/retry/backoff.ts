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
