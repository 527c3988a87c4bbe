import type { ProxyStatusMember } from '../../core/failure/proxy-status.ts';
import type { FailureType } from '../../core/failure/taxonomy.ts';
import { type NoRetryReason, type RetryReason, reasonText } from '../../core/retry/reasons.ts';

/** One failed attempt of a call, as `onAttemptFailed` receives it and UpstreamError keeps it. */
export interface AttemptReport {
  /** 1-based. */
  readonly attempt: number;
  readonly method: string;
  readonly url: string;
  /** The response status; undefined when no response came (a connection failure, the deadline). */
  readonly status: number | undefined;
  /**
   * The failure type: the `error` of the Proxy-Status member that made the response, or the
   * client's own connection failure classified by the same table. Undefined for a status with
   * no type (the origin's own 503, say).
   */
  readonly type: FailureType | undefined;
  /** The Proxy-Status member of the hop that made the response (RFC 9209), when there was one. */
  readonly proxyStatus: ProxyStatusMember | undefined;
  /** The response's `x-request-id`: the id to quote to the people running the gateway. */
  readonly requestId: string | undefined;
  /** What happened, in words (the connection error, or the Proxy-Status details). */
  readonly detail: string | undefined;
  /** Retry-After as announced, in milliseconds, when the response carried one. */
  readonly retryAfterMs: number | undefined;
  /** Milliseconds from this attempt's start to its outcome. */
  readonly elapsedMs: number;
  readonly retry: boolean;
  /** Milliseconds before the next try (a backoff, or the announced Retry-After); undefined when none follows. */
  readonly delayMs: number | undefined;
  readonly reason: RetryReason | NoRetryReason;
  /** `reason` in words. */
  readonly why: string;
}

/** A report; `delayMs` undefined means no retry follows. */
export function attemptReport(
  attempt: number,
  method: string,
  url: string,
  seen: {
    elapsedMs: number;
    status?: number;
    type?: FailureType;
    proxyStatus?: ProxyStatusMember;
    requestId?: string;
    detail?: string;
    retryAfterMs?: number;
  },
  delayMs: number | undefined,
  reason: RetryReason | NoRetryReason,
): AttemptReport {
  const retry = delayMs !== undefined;
  return {
    attempt,
    method,
    url,
    status: seen.status,
    type: seen.type,
    proxyStatus: seen.proxyStatus,
    requestId: seen.requestId,
    detail: seen.detail,
    retryAfterMs: seen.retryAfterMs,
    elapsedMs: seen.elapsedMs,
    retry,
    delayMs,
    reason,
    why: reasonText(reason),
  };
}
