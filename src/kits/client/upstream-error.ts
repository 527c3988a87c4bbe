import type { FailureType } from '../../core/failure/taxonomy.ts';
import { type NoRetryReason, reasonText } from '../../core/retry/reasons.ts';
import type { AttemptReport } from './attempt-report.ts';

/**
 * The ways a call of candor/client's fetch ends without a response, each with a stable code; and
 * UPSTREAM_BODY_TIMEOUT and UPSTREAM_BODY_INCOMPLETE, the ways a read of the body of the Response
 * it gave fails (answer-body.ts).
 */
export const UPSTREAM_ERROR_CODES = {
  UPSTREAM_UNREACHABLE:
    'the last attempt got no response: the connection failed or broke, or what came was not HTTP',
  UPSTREAM_DEADLINE: 'the deadline passed before a response came (or a Retry-After pause reaches past it)',
  UPSTREAM_CIRCUIT_OPEN: "the origin's circuit is open: the call failed fast, nothing (more) was sent",
  UPSTREAM_BODY_TIMEOUT:
    'the response came, but its body stalled past bodyTimeout: the read rejected, the connection was destroyed',
  UPSTREAM_BODY_INCOMPLETE:
    'the response came, but its body broke off: the connection was reset or closed before its end, or its framing or coding was not valid',
} as const;

export type UpstreamErrorCode = keyof typeof UPSTREAM_ERROR_CODES;

/**
 * A call that got no HTTP response. It carries every attempt, so one log line can tell the
 * whole truth: `${error.message}` names the method, URL, attempts, last failure type and why
 * it stopped. (A call that got an HTTP response, even a 502, resolves with that Response; a
 * read of its body that stalled past `bodyTimeout` rejects with one, UPSTREAM_BODY_TIMEOUT, a
 * read of a body cut short or garbled with one, UPSTREAM_BODY_INCOMPLETE.)
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly code: UpstreamErrorCode;
  readonly method: string;
  readonly url: string;
  /** The type of the last failure, when known. */
  readonly type: FailureType | undefined;
  /**
   * The `x-request-id` of the response whose body broke (UPSTREAM_BODY_TIMEOUT,
   * UPSTREAM_BODY_INCOMPLETE), else of the last response that came to an attempt of the call (an
   * earlier attempt's: the last one got none), when it carried one: the id of the gateway's log
   * line for that request, to quote to the people running it.
   */
  readonly requestId: string | undefined;
  readonly attempts: readonly AttemptReport[];
  /**
   * For UPSTREAM_CIRCUIT_OPEN: milliseconds until the circuit lets a probe through; for an
   * UPSTREAM_DEADLINE that a Retry-After pause reaching past the deadline ended at once: until the pause ends.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: UpstreamErrorCode,
    init: {
      method: string;
      url: string;
      attempts: readonly AttemptReport[];
      type?: FailureType;
      detail?: string;
      retryAfterMs?: number;
      cause?: unknown;
      /** Why the retry the last attempt's report announced was not made after all (the circuit opened meanwhile…). */
      stoppedBy?: NoRetryReason;
      /** Attempts made, when more than the failed ones (a body that stalled or broke: the attempt that answered). */
      made?: number;
      /** The request id of the response whose body broke (the failed attempts' ids are in `attempts`). */
      requestId?: string;
    },
  ) {
    const last = init.attempts.at(-1);
    const made = init.made ?? init.attempts.length;
    const tried = `${made} attempt${made === 1 ? '' : 's'}`;
    const what = [init.type ?? last?.type, init.detail ?? last?.detail].filter(Boolean).join(': ');
    const why = last?.retry ? init.stoppedBy && reasonText(init.stoppedBy) : last?.why;
    const stopped = why ? `; not retried: ${why}` : '';
    // A body that broke came with a response the gateway logged: its id is in no attempt's report
    // (one the answer did not carry is none, never a failed attempt's before it). Else the id of
    // the last answer that came, as documented: the last attempt of a call that ends here got
    // no answer (a refusal, the deadline), so its own report never has one, and taking only
    // its id left every UPSTREAM_UNREACHABLE, _DEADLINE and _CIRCUIT_OPEN without the id of the
    // gateway's line for the answer an earlier attempt did get.
    const requestId =
      'requestId' in init
        ? init.requestId
        : init.attempts.findLast((a) => a.requestId !== undefined)?.requestId;
    const quoted = requestId === undefined ? '' : `, request id ${requestId}`;
    super(
      `${init.method} ${init.url}: ${UPSTREAM_ERROR_CODES[code]} (${tried}${what ? `, ${what}` : ''}${quoted}${stopped})`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.code = code;
    this.method = init.method;
    this.url = init.url;
    this.type = init.type ?? last?.type;
    this.requestId = requestId;
    this.attempts = init.attempts;
    this.retryAfterMs = init.retryAfterMs;
  }
}
