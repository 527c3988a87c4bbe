/**
 * When a certificate is renewed, and how long a failed order waits before the next try. Pure
 * functions of the certificate's dates and the clock, so the schedule is tested without one.
 */

/**
 * The moment to renew: `renewBefore` ahead of expiry when the config sets it; else, when the
 * CA has a renewal window for it (ACME Renewal Information, RFC 9773), a moment inside that
 * window; else two thirds into the certificate's lifetime (30 days before the end of a 90-day one).
 */
export function renewalTime(
  notBefore: number,
  notAfter: number,
  renewBefore: number | undefined,
  window?: { start: number; end: number },
): number {
  const configured = renewBefore === undefined ? undefined : notAfter - renewBefore;
  // RFC 9773 §4.2: a time chosen uniformly at random inside the window, so that a fleet of
  // clients does not come at once. A window in the past (a revocation coming) means now. The
  // operator's renew_before still wins when it comes first.
  if (window !== undefined && window.end >= window.start) {
    // Yet never in the certificate's last twentieth (certmagic's emergency bound): a CA whose
    // window runs past not_after (a bug, a clock a year off) would leave it to end unrenewed.
    const latest = notAfter - (notAfter - notBefore) / 20;
    const chosen = Math.min(latest, window.start + Math.random() * (window.end - window.start));
    return configured === undefined ? chosen : Math.min(chosen, configured);
  }
  return configured ?? notBefore + ((notAfter - notBefore) * 2) / 3;
}

/** The longest a CA's Retry-After is waited for: a week, the span of the common CAs' rate limits. */
const MAX_CA_WAIT_MS = 7 * 86_400_000;

/** The longest wait between two failed orders of one name, when the CA does not ask for longer. */
export const MAX_BACKOFF_MS = 6 * 3_600_000;

/**
 * The first retry after a minute, then doubling, at most every 6 hours (a CA counts failed
 * validations); never before the CA said to come back (its Retry-After: a rate limit's end,
 * RFC 8555 §6.6), which a try sooner would only meet again.
 */
/** The longest retryDelay gives. */
export const MAX_RETRY_MS = Math.max(MAX_BACKOFF_MS, MAX_CA_WAIT_MS);

export function retryDelay(failures: number, caRetryAfterMs = 0): number {
  const backoff = Math.min(MAX_BACKOFF_MS, 60_000 * 2 ** Math.max(0, failures - 1));
  return Math.max(backoff, Math.min(caRetryAfterMs, MAX_CA_WAIT_MS));
}
