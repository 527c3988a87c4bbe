/**
 * Why candor/client retried a failed attempt, or why not: one code each with the words for a
 * person, as `onAttemptFailed` and UpstreamError report them. Codes shared with the gateway's
 * `retry_skipped` (not_retryable, not_idempotent, body_not_replayable, attempts, deadline,
 * budget) mean the same thing there.
 */
export const RETRY_REASONS = {
  not_sent: 'nothing reached the upstream, so it is safe to send again whatever the method',
  idempotent: 'the method is idempotent (RFC 9110 §9.2.2)',
  idempotency_key: 'the request carries an Idempotency-Key',
} as const;

export const NO_RETRY_REASONS = {
  not_retryable: 'the failure table says another try will not help',
  not_idempotent:
    'the request may have reached the upstream and its method is not idempotent (no Idempotency-Key)',
  body_not_replayable: 'the request body is a stream this attempt consumed: it cannot be sent again',
  attempts: 'attempts exhausted',
  deadline: 'the deadline has passed or would before the next try',
  retry_after_past_deadline: 'Retry-After reaches past the deadline',
  budget: 'the retry budget is spent',
  circuit_open: 'the circuit to this origin is open',
} as const;

export type RetryReason = keyof typeof RETRY_REASONS;
export type NoRetryReason = keyof typeof NO_RETRY_REASONS;

export function reasonText(reason: RetryReason | NoRetryReason): string {
  return Object.hasOwn(RETRY_REASONS, reason)
    ? RETRY_REASONS[reason as RetryReason]
    : NO_RETRY_REASONS[reason as NoRetryReason];
}
