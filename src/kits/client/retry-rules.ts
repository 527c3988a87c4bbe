/**
 * Whether a failed attempt may go again, read from the failure table: the type's
 * `clientMayRetry` and how far a request failing that way can have got (`furthestStage`).
 * A request that never reached the upstream may go again whatever its method; one that may
 * have reached it only when its method is idempotent or it carries an Idempotency-Key. A
 * status without a type (the origin's own 503, a hop that writes no Proxy-Status) is taken
 * as having reached the upstream.
 */

import { FAILURES, type FailureType, type Stage } from '../../core/failure/taxonomy.ts';

export { classifyFetchError } from '../../core/failure/classify-fetch.ts';

import { IDEMPOTENT_METHODS } from '../../core/retry/idempotent.ts';
import type { NoRetryReason, RetryReason } from '../../core/retry/reasons.ts';

/** Statuses worth another try when no Proxy-Status type says more. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** What one attempt ended with, as the rules read it. */
export interface AttemptEnd {
  readonly status: number | undefined;
  readonly type: FailureType | undefined;
  readonly stage: Stage;
}

export interface RequestFacts {
  readonly method: string;
  readonly idempotencyKey: boolean;
  readonly replayable: boolean;
}

type Judgement =
  | { readonly retry: true; readonly reason: RetryReason }
  | { readonly retry: false; readonly reason: NoRetryReason };

/** A response worth reporting as a failed attempt: a rate limit, or any 5xx. */
export function isFailedStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** How far a response's failure got: its type's furthest stage, or the upstream when untyped. */
export function stageOf(type: FailureType | undefined): Stage {
  return type === undefined ? 'sent' : FAILURES[type].furthestStage;
}

export function judgeAttempt(outcome: AttemptEnd, request: RequestFacts): Judgement {
  if (outcome.type !== undefined) {
    if (!FAILURES[outcome.type].clientMayRetry) return { retry: false, reason: 'not_retryable' };
  } else if (outcome.status !== undefined && !RETRYABLE_STATUSES.has(outcome.status)) {
    return { retry: false, reason: 'not_retryable' };
  }
  if (!request.replayable) return { retry: false, reason: 'body_not_replayable' };
  if (outcome.stage === 'not_sent') return { retry: true, reason: 'not_sent' };
  if (IDEMPOTENT_METHODS.has(request.method)) return { retry: true, reason: 'idempotent' };
  if (request.idempotencyKey) return { retry: true, reason: 'idempotency_key' };
  return { retry: false, reason: 'not_idempotent' };
}
