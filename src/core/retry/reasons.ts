/**
 * The retry vocabulary, one table for the gateway and candor/client: why a failed attempt was
 * not retried (the gateway's `retry_skipped` in the log and the metrics, the client's
 * `onAttemptFailed` and UpstreamError), and why the client did retry. One code means one thing
 * wherever it is read; each reader has its own words for it (the gateway's name its config),
 * and a code only one of them can meet has only that one's words.
 */
const NOT_RETRIED = {
  not_retryable: {
    gateway: 'the failure type is not in retries.on',
    client: 'the failure table says another try will not help',
  },
  after_head: { gateway: 'the upstream already answered' },
  not_idempotent: {
    gateway: 'the request reached the upstream and is not idempotent',
    client: 'the request may have reached the upstream and its method is not idempotent (no Idempotency-Key)',
  },
  body_not_replayable: {
    gateway: 'the body was streamed and cannot be sent again',
    client: 'the request body is a stream this attempt consumed: it cannot be sent again',
  },
  attempts: { gateway: 'attempts exhausted', client: 'attempts exhausted' },
  deadline: {
    gateway: 'the total deadline has passed',
    client: 'the deadline has passed or would before the next try',
  },
  no_target: { gateway: 'no other target to try' },
  retry_after_past_deadline: { client: 'Retry-After reaches past the deadline' },
  retry_after_past_max_pause: { client: 'Retry-After reaches past maxPause' },
  budget: { gateway: 'the retry budget is spent', client: 'the retry budget is spent' },
  circuit_open: { gateway: "the upstream's circuit is open", client: 'the circuit to this origin is open' },
} as const;

type Reader = 'gateway' | 'client';
type Table = typeof NOT_RETRIED;
/** The codes a reader can meet, with its words for each. */
type WordsOf<R extends Reader> = {
  readonly [C in keyof Table as Table[C] extends Record<R, string> ? C : never]: Table[C] extends Record<
    R,
    infer W
  >
    ? W
    : never;
};

function wordsOf<R extends Reader>(reader: R): WordsOf<R> {
  const out: Record<string, string> = {};
  for (const [code, words] of Object.entries(NOT_RETRIED) as Array<
    [string, Partial<Record<Reader, string>>]
  >) {
    const said = words[reader];
    if (said !== undefined) out[code] = said;
  }
  return out as WordsOf<R>;
}

/** Why the gateway did not retry a failed attempt, as the log line's `retry_skipped` says it. */
export const RETRY_SKIPS: WordsOf<'gateway'> = wordsOf('gateway');
export type RetrySkip = keyof WordsOf<'gateway'>;

/** Why candor/client did not retry a failed attempt. */
export const NO_RETRY_REASONS: WordsOf<'client'> = wordsOf('client');
export type NoRetryReason = keyof WordsOf<'client'>;

/** Why candor/client retried a failed attempt. */
export const RETRY_REASONS = {
  not_sent: 'nothing reached the upstream, so it is safe to send again whatever the method',
  idempotent: 'the method is idempotent (RFC 9110 §9.2.2)',
  idempotency_key: 'the request carries an Idempotency-Key',
} as const;
export type RetryReason = keyof typeof RETRY_REASONS;

/** The words for a client's reason, to retry or not. */
export function reasonText(reason: RetryReason | NoRetryReason): string {
  return Object.hasOwn(RETRY_REASONS, reason)
    ? RETRY_REASONS[reason as RetryReason]
    : NO_RETRY_REASONS[reason as NoRetryReason];
}
