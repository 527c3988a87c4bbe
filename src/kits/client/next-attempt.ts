/**
 * The next step after a failed attempt, with every limit of the call applied in turn: the
 * failure table's rule (retry-rules.ts), the attempts, the deadline, the bound on a pause, and
 * the origin's retry budget. A limit that stops a retry names itself (NoRetryReason), as the
 * attempt's report and the UpstreamError say it.
 */
import { backoffDelay } from '../../core/retry/backoff.ts';
import type { NoRetryReason, RetryReason } from '../../core/retry/reasons.ts';
import type { ClientConfig } from './options.ts';
import type { OriginState } from './origin-state.ts';
import { type AttemptEnd, judgeAttempt, type RequestFacts } from './retry-rules.ts';

export type Next =
  | { readonly retry: true; readonly reason: RetryReason; readonly delayMs: number }
  | { readonly retry: false; readonly reason: NoRetryReason; readonly delayMs: undefined };

/** What one call's limits are read from. */
export interface CallLimits {
  readonly config: ClientConfig;
  readonly origin: OriginState;
  readonly facts: RequestFacts;
  /** The call's deadline on performance.now()'s clock. */
  readonly deadlineAt: number;
}

/**
 * The next step after failed attempt number `attempt`; `announcedMs`: the Retry-After it came
 * with; `paused`: that Retry-After paused the origin, and admit() waits it out; `waitMs`: the
 * wait drawn for it (afterRetryAfter: the announced time, a little more), the one reported.
 */
export function nextAttempt(
  call: CallLimits,
  attempt: number,
  outcome: AttemptEnd,
  announcedMs: number | undefined,
  paused = false,
  waitMs = announcedMs,
): Next {
  const { config, origin } = call;
  const verdict = judgeAttempt(outcome, call.facts);
  if (!verdict.retry) return { retry: false, reason: verdict.reason, delayMs: undefined };
  const no = (reason: NoRetryReason): Next => ({ retry: false, reason, delayMs: undefined });
  if (attempt >= config.attempts) return no('attempts');
  const delayMs =
    waitMs ?? backoffDelay({ backoffBase: config.backoff.base, backoffMax: config.backoff.cap }, attempt);
  // No Retry-After holds a call longer than maxPause: the pause holds later calls for maxPause
  // at most, and this call is not sent before the time announced (a 502's or 504's, or that of
  // another origin a redirect led to, which pause nothing, included), so past it the call ends
  // with the answer it got. Said before the deadline (docs' order): with the defaults (a 30 s
  // deadline, a 60 s maxPause) every such wait is past the deadline too, and the reason would
  // never be told.
  // Judged on the time announced: the spread after it is the client's own, bounded apart.
  if (announcedMs !== undefined && announcedMs > config.maxPause) return no('retry_after_past_max_pause');
  const now = performance.now();
  if (now + delayMs >= call.deadlineAt)
    return no(announcedMs !== undefined ? 'retry_after_past_deadline' : 'deadline');
  // A retry that waits out a pause (a 503 or 429 whose Retry-After is not 0) is not charged:
  // the pause lets one probe per announced window reach the origin, fewer requests than any
  // budget would. Any other Retry-After (on a 502 or 504, which pauses nothing, or of 0
  // seconds) is a delay like a backoff, and charged like one.
  if (!paused && origin.budget && !origin.budget.trySpend(now)) return no('budget');
  return { retry: true, reason: verdict.reason, delayMs };
}
