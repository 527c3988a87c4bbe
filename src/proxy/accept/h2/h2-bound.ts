/**
 * Why the gateway closed a client's HTTP/2 connection or cut one of its streams (h2-guard.ts),
 * and where it says so: types only, read by the server's wiring and the gateway's log.
 */

/** Why a connection was closed (or a stream cut), as the log line names it. */
export type H2Bound =
  | 'rapid_reset'
  | 'ping_flood'
  | 'settings_flood'
  | 'request_rate'
  | 'max_concurrent_streams'
  | 'continuation_flood'
  | 'invalid_frames'
  | 'rejected_streams'
  | 'protocol_error'
  | 'send_timeout';

export interface H2BoundEvent {
  readonly bound: H2Bound;
  /** The code sent: GOAWAY's for the connection, RST_STREAM's for `send_timeout`. */
  readonly code: string;
  readonly remoteAddress: string;
  readonly details: string;
}

/** Where the server says why it closed a connection or cut a stream (wired to the gateway's log). */
export interface H2Logger {
  bound(event: H2BoundEvent): void;
}
