import type { ResponseSink } from '../../core/net/downstream.ts';

/**
 * `limits.send_timeout` (nginx's `send_timeout`): the longest a client may take no byte of a
 * response the gateway has waiting for it. Armed when a write is left waiting (the client's
 * socket is full), it looks again after the timeout: a socket that drained meanwhile disarms
 * it, one that took some bytes re-arms it, and one that took none is cut.
 *
 * Progress is what the kernel took from the socket's queue, seen when a write completes: a
 * client must take a whole write (at most `routes[].limits.buffer`, gathered in one writev)
 * within the timeout, so the timeout also sets a floor on its rate.
 */
export class SendDeadline {
  private readonly sink: ResponseSink;
  private readonly timeout: number;
  private readonly expired: () => void;
  private timer: NodeJS.Timeout | undefined;
  private armed = false;
  /** Bytes the socket had handed to the kernel when the timer was last set. */
  private mark = 0;

  constructor(sink: ResponseSink, timeout: number, expired: () => void) {
    this.sink = sink;
    this.timeout = timeout;
    this.expired = expired;
  }

  /** A write was left waiting for the client: start counting, unless already counting. */
  watch(): void {
    if (this.armed) return;
    this.armed = true;
    this.mark = this.sink.flushedBytes;
    // One timer per response, refreshed rather than made again: a slow reader re-arms it often.
    if (this.timer === undefined) this.timer = setTimeout(this.check, this.timeout).unref();
    else this.timer.refresh();
  }

  stop(): void {
    this.armed = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    if (!this.armed) return;
    const { sink } = this;
    // Gone (the response closed) or drained: nothing waits for the client any more.
    if (sink.closed || sink.pendingBytes === 0) return this.stop();
    const now = sink.flushedBytes;
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
