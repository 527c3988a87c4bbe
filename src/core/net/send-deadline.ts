/**
 * The send deadline (nginx's `send_timeout`): the longest a client may take no byte of a
 * response the gateway has waiting for it. One for both protocols, owned by the response sink
 * (the accept side: http1-response.ts, h2-response.ts), which arms it when a write is left
 * waiting (the client's socket or stream is full). It looks again after the timeout: a sink
 * that drained meanwhile disarms it, one that took some bytes re-arms it, and one that took none
 * is cut.
 *
 * Progress is what the client's connection took from the sink's queue, seen when a write
 * completes: a client must take a whole write (at most `routes[].limits.buffer`, gathered in
 * one writev) within the timeout, so the timeout also sets a floor on its rate.
 */

/** What the deadline reads of a response waiting for its client. */
export interface SendProgress {
  /** Nothing more can be sent (the response is over, or its connection or stream is gone). */
  readonly closed: boolean;
  /** Bytes written and not yet taken by the client. */
  readonly pendingBytes: number;
  /** Bytes the client has taken so far (only its growth means anything). */
  readonly flushedBytes: number;
}

/** The limit a send deadline enforces, for the failure that names it. */
export interface SendLimit {
  readonly ms: number;
  /** The config field it comes from (`limits.send_timeout`, `limits.http2.send_timeout`). */
  readonly field: string;
}

export class SendDeadline {
  readonly limit: SendLimit;
  private readonly progress: SendProgress;
  private readonly expired: () => void;
  private timer: NodeJS.Timeout | undefined;
  private watching = false;
  /** Bytes the client had taken when the timer was last set. */
  private mark = 0;

  constructor(progress: SendProgress, limit: SendLimit, expired: () => void) {
    this.progress = progress;
    this.limit = limit;
    this.expired = expired;
  }

  /** Counting already (a write is waiting for the client). */
  get armed(): boolean {
    return this.watching;
  }

  /** A write was left waiting for the client: start counting, unless already counting. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    this.mark = this.progress.flushedBytes;
    // One timer per response, refreshed rather than made again: a slow reader re-arms it often.
    if (this.timer === undefined) this.timer = setTimeout(this.check, this.limit.ms).unref();
    else this.timer.refresh();
  }

  /** Nothing waits for the client (it drained), or the response is over: an armed timer holds the whole request. */
  stop(): void {
    this.watching = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    if (!this.watching) return;
    const { progress } = this;
    // Gone or drained: nothing waits for the client any more.
    if (progress.closed || progress.pendingBytes === 0) return this.stop();
    const now = progress.flushedBytes;
    // Took some: another period.
    if (now > this.mark) {
      this.mark = now;
      this.timer?.refresh();
      return;
    }
    this.stop();
    this.expired();
  };
}
