/**
 * Whether a failed attempt may go again, read from the failure table: the type's
 * `clientMayRetry` and how far a request failing that way can have got (`furthestStage`).
 * A request that never reached the upstream may go again whatever its method; one that may
 * have reached it only when its method is idempotent or it carries an Idempotency-Key. A
 * status without a type (the origin's own 503, a hop that writes no Proxy-Status) is taken
 * as having reached the upstream.
 */

import { classifyConnectError, classifyExchangeError, ms } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { FAILURES, type FailureType, type Stage } from '../../core/failure/taxonomy.ts';
import { IDEMPOTENT_METHODS } from '../../core/retry/idempotent.ts';
import type { NoRetryReason, RetryReason } from '../../core/retry/reasons.ts';

/** Statuses worth another try when no Proxy-Status type says more. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** What one attempt ended with, as the rules read it. */
export interface AttemptOutcome {
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

export function judge(outcome: AttemptOutcome, request: RequestFacts): Judgement {
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

/** Codes of a name that did not resolve: nothing was sent. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENODATA']);

/**
 * fetch's "fetch failed" TypeError, classified by the gateway's own table: its cause's code
 * says whether the connection was ever made (refused, unreachable, connect timeout, a TLS or
 * certificate failure: nothing was sent). Anything else (a reset, "other side closed", a code
 * the table does not know) may have reached the upstream.
 */
export function classifyFetchError(err: unknown, elapsed: number): Failure {
  let cause = (err as { cause?: unknown } | null)?.cause ?? err;
  // Happy eyeballs: an AggregateError whose first error carries the code.
  if (cause instanceof AggregateError && (cause as { code?: unknown }).code === undefined)
    cause = cause.errors[0] ?? cause;
  const code = String((cause as { code?: unknown } | null)?.code ?? '');
  if (DNS_CODES.has(code)) return classifyConnectError(cause, 'dns', elapsed);
  // undici's own wait for the response head (its dispatcher's headersTimeout) ran out.
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return new Failure('http_response_timeout', `no response head in time (${code}) after ${ms(elapsed)}`, {
      stage: 'sent',
      cause,
    });
  if (code !== '') {
    const connect = classifyConnectError(cause, 'tcp', elapsed);
    if (connect.type !== 'connection_terminated') return connect;
    return classifyExchangeError(cause, 'sent', elapsed);
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new Failure('connection_terminated', `connection lost (${message}) after ${ms(elapsed)}`, {
    stage: 'sent',
    cause,
  });
}
