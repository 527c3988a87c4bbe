import type { FailureType } from '../failure/taxonomy.ts';

/**
 * What a log format reader makes of one line: a finished request (an access-log line), or a
 * failed attempt with no status of its own (an nginx error-log line), to be matched with the
 * request it belongs to.
 */
export type LogRecord = RequestLine | FailedAttempt;

interface RecordBase {
  /** Epoch milliseconds. */
  readonly time: number;
  /** The upstream's name where the log knows it (HAProxy's backend, Candor's upstream). */
  readonly upstream?: string;
  /** The one server or address that was tried: "127.0.0.1:3001", "be_api/api2". */
  readonly target?: string;
  /**
   * Client and request line, for matching an error-log line with its access-log line
   * ("127.0.0.1 GET /a HTTP/1.1"); only formats that must be joined set it.
   */
  readonly joinKey?: string;
}

export interface RequestLine extends RecordBase {
  readonly kind: 'request';
  /**
   * The status sent to the client: 100–599; 9 for an HTTP/0.9 answer passed through (nginx
   * logs "009"); 0 when none was sent (HAProxy's -1).
   */
  readonly status: number;
  /** The failure behind the answer, when the line says (Candor's `error`, HAProxy's flags). */
  readonly failure?: FailureType;
  /** Failures of earlier attempts of this request that were retried (Candor's `tries`). */
  readonly retried?: readonly FailureType[];
  /**
   * How long the gateway waited on the upstream for the response head (a success's response
   * time; a timeout's wait), when the format records it.
   */
  readonly waitMs?: number;
  /** The client left before the response was complete. */
  readonly clientAborted?: boolean;
}

export interface FailedAttempt extends RecordBase {
  readonly kind: 'attempt';
  readonly failure: FailureType;
}
