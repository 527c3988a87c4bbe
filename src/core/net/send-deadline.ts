/**
 * The send deadline (nginx's `send_timeout`): the longest a client may take no byte of a
 * response the gateway has waiting for it. One for both protocols, owned by the response sink
 * (the accept side: http1-answer.ts, h2-answer.ts), which arms it when a write is left
 * waiting (the client's socket or stream is full). A sink that drained disarms it; one whose
 * client took no byte for the timeout is cut.
 *
 * Progress is what the client's connection took from the sink's queue, seen when a write
 * completes: a client must take a whole write (at most `routes[].limits.buffer`, gathered in
 * one writev) within the timeout, so the timeout also sets a floor on its rate.
 *
 * Progress has no event of its own (only a callback on every write, which every response
 * would pay for), so the deadline looks at it LOOKS times a timeout, and cuts at the first look
 * that completes a timeout's worth of looks with none taken: between the timeout and one look
 * (an eighth) more after the client last took bytes, never sooner. Looking once a timeout, a
 * client that took its window just after the deadline was armed was given up to twice the
 * timeout (a take seen at the first look began a second whole period), while the failure said
 * it had taken nothing for the timeout.
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

/** Looks at the client's progress per timeout: the cut is at most a timeout / LOOKS late. */
const LOOKS = 8;

export class SendDeadline {
  readonly limit: SendLimit;
  private readonly progress: SendProgress;
  private readonly expired: () => void;
  private timer: NodeJS.Timeout | undefined;
  private watching = false;
  /** Bytes the client had taken at the last look. */
  private mark = 0;
  /** Looks in a row that found nothing taken: LOOKS of them are a timeout's worth (each look is a timeout / LOOKS, rounded up). */
  private idleLooks = 0;

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
    this.idleLooks = 0;
    // One interval for the whole wait, however many looks it takes.
    this.timer = setInterval(this.look, Math.max(1, Math.ceil(this.limit.ms / LOOKS))).unref();
  }

  /** Nothing waits for the client (it drained), or the response is over: an armed timer holds the whole request. */
  stop(): void {
    this.watching = false;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly look = (): void => {
    if (!this.watching) return;
    const { progress } = this;
    // Gone or drained: nothing waits for the client any more.
    if (progress.closed || progress.pendingBytes === 0) return this.stop();
    const now = progress.flushedBytes;
    // Took some since the last look: the timeout counts again from this look, after the take.
    if (now > this.mark) {
      this.mark = now;
      this.idleLooks = 0;
      return;
    }
    if (++this.idleLooks < LOOKS) return;
    this.stop();
    this.expired();
  };
}
