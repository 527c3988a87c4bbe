/**
 * The one door between the core's backpressure (client-backpressure.ts) and a place the rest of a
 * response may wait when its client falls behind (the spool's disk, answer-spool.ts): the
 * exchange and its backpressure know this interface, never the spool.
 */

/** Where the rest of a response may wait while its client is slow, so its upstream need not (`limits.spool`). */
export interface AnswerOverflow {
  /**
   * The client of a response on `route` fell behind past its buffer: what takes the rest of it,
   * or undefined when nothing can now (the upstream waits for the client).
   */
  take(outlet: OverflowOutlet, route: string): OverflowedAnswer | undefined;
  /** Bytes the responses overflowed hold there now (a gauge). */
  readonly overflowBytes: number;
}

/** The rest of one response, on its way to its client through the overflow. */
export interface OverflowedAnswer {
  /** The next upstream chunk. False: pause the upstream; the outlet's resume() comes when it may send again. */
  add(chunk: Buffer): boolean;
  /** The client's socket drained: send on. */
  pump(): void;
  /** The upstream sent everything: `drained` runs once the last byte went to the client's socket. */
  end(drained: () => void): void;
  /** The response is over (whole, cut or left): whatever it held goes. */
  close(): void;
  /** The upstream is paused until what waits in memory goes on (to the client, or the overflow). */
  readonly pausesUpstream: boolean;
}

/** What an overflow asks of the response's backpressure: the client's side and the upstream's. */
export interface OverflowOutlet {
  /** Writes a piece to the client; false when the client holds its buffer's worth (pump() comes at its drain). */
  send(chunk: Buffer): boolean;
  /** The upstream may send again (it was paused by add()). */
  resume(): void;
  /** The overflow failed under the response (`details` say how): it cannot go on whole. */
  failed(details: string, error: Error): void;
  /** These bytes went through the overflow (for the log line, written before the response closes). */
  wrote(bytes: number): void;
}
