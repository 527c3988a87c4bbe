/**
 * Why a failed attempt was not retried, as the log line's `retry_skipped` says it: one code
 * each, with the words for a person. The union is declared once, here, beside the
 * taxonomy: the decide phase returns these codes and the log carries them.
 */
export const RETRY_SKIPS = {
  not_retryable: 'the failure type is not in retries.on',
  after_head: 'the upstream already answered',
  not_idempotent: 'the request reached the upstream and is not idempotent',
  body_not_replayable: 'the body was streamed and cannot be sent again',
  attempts: 'attempts exhausted',
  deadline: 'the total deadline has passed',
  no_target: 'no other target to try',
  budget: 'the retry budget is spent',
} as const;

export type RetrySkip = keyof typeof RETRY_SKIPS;
