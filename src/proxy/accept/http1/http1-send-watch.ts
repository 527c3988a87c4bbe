/**
 * The send deadline of one HTTP/1.1 response (`limits.send_timeout`, core/net/send-deadline.ts),
 * with what it reads of its client's socket: made at the response's first write left waiting
 * (most responses have none), armed while a write waits, stopped when the socket drains.
 */
import type { Socket } from 'node:net';
import { SendDeadline, type SendLimit, type SendProgress } from '../../../core/net/send-deadline.ts';

/** What the watch asks of its response (http1-answer.ts). */
export interface WatchedAnswer {
  /** Nothing more can be sent: the response is over, and not an answer ended and still leaving. */
  readonly sendClosed: boolean;
  /** The socket drained: an answer ended and still leaving has gone whole. */
  sendDrained(): void;
  /** The client took nothing for the deadline. */
  sendTimedOut(limit: SendLimit): void;
}

export class Http1SendWatch implements SendProgress {
  readonly #socket: Socket;
  readonly #answer: WatchedAnswer;
  readonly #deadline: SendDeadline;

  constructor(socket: Socket, answer: WatchedAnswer, ms: number) {
    this.#socket = socket;
    this.#answer = answer;
    this.#deadline = new SendDeadline(this, { ms, field: 'limits.send_timeout' }, () =>
      answer.sendTimedOut(this.#deadline.limit),
    );
  }

  get closed(): boolean {
    return this.#answer.sendClosed;
  }

  get pendingBytes(): number {
    return this.#socket.writableLength;
  }

  get flushedBytes(): number {
    return this.#socket.bytesWritten - this.#socket.writableLength;
  }

  /** Counting (a write waits for the client). */
  get armed(): boolean {
    return this.#deadline.armed;
  }

  /** A write is left waiting for the client: the deadline counts until the socket drains. */
  watch(): void {
    if (this.#deadline.armed) return;
    this.#deadline.watch();
    this.#socket.once('drain', this.drained);
  }

  /** What waited went: the deadline stops, and an answer left leaving is whole. */
  readonly drained = (): void => {
    this.#deadline.stop();
    this.#answer.sendDrained();
  };

  /** The response closed: nothing more is watched. */
  stop(): void {
    this.#deadline.stop();
    this.#socket.off('drain', this.drained);
  }
}
