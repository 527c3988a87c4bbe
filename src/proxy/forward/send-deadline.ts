import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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
  private readonly res: ServerResponse;
  private readonly timeout: number;
  private readonly expired: () => void;
  private timer: NodeJS.Timeout | undefined;
  private armed = false;
  /** Bytes the socket had handed to the kernel when the timer was last set. */
  private mark = 0;

  constructor(res: ServerResponse, timeout: number, expired: () => void) {
    this.res = res;
    this.timeout = timeout;
    this.expired = expired;
  }

  /** A write was left waiting for the client: start counting, unless already counting. */
  watch(): void {
    if (this.armed) return;
    this.armed = true;
    this.mark = flushed(this.res.socket);
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
    const socket = this.res.socket;
    // Gone (the response closed) or drained: nothing waits for the client any more.
    if (this.res.destroyed || (socket !== null && (socket.destroyed || socket.writableLength === 0)))
      return this.stop();
    const now = flushed(socket);
    // Took some (or waits behind an earlier response on its connection, which has a deadline
    // of its own): another period.
    if (socket === null || now > this.mark) {
      this.mark = now;
      this.timer?.refresh();
      return;
    }
    this.stop();
    this.expired();
  };
}

/** Bytes of the socket's writes the kernel has taken: written, less what still waits in its queue. */
function flushed(socket: Socket | null): number {
  if (socket === null) return 0;
  return (socket.bytesWritten ?? 0) - socket.writableLength;
}
