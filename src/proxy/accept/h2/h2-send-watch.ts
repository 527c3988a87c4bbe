/**
 * The send deadline of one HTTP/2 response (`limits.http2.send_timeout`, core/net/send-deadline.ts),
 * with what it reads of the stream: made when first armed (most responses never are), counting
 * while a write waits for the client's flow-control window or socket, END_STREAM and trailers included.
 */
import type { ServerHttp2Stream } from 'node:http2';
import { SendDeadline, type SendLimit, type SendProgress } from '../../../core/net/send-deadline.ts';
import { atTurnEnd } from '../../../core/net/turn-end.ts';

/** What the watch reads of its response (h2-answer.ts), and tells it. */
export interface WatchedStream {
  /** Body bytes the stream and the sink hold, not yet sent on. */
  readonly pendingBytes: number;
  readonly flushedBytes: number;
  /** The client took nothing for the deadline (the stream still open). */
  sendTimedOut(limit: SendLimit): void;
  /** At the end of the turn end() ran in, its stream still holding what was written (watchAfterEnd). */
  queuedAfterEnd(): void;
}

/**
 * What is still queued after end() must reach the client within the deadline too. Looked at when
 * the turn ends, not now: node:http2 holds every ended stream's last frames until it writes its
 * session's frames, later in the same turn, so a deadline armed here would be made and cleared
 * for nearly every response; at the turn's end the stream has closed, unless its client's window
 * or socket keeps it (turn-end.ts's queue allocates nothing).
 */
export function watchAfterEnd(stream: ServerHttp2Stream, answer: WatchedStream): void {
  if (stream.writableLength > 0) atTurnEnd(lookAfterEnd, answer);
}

function lookAfterEnd(answer: WatchedStream): void {
  answer.queuedAfterEnd();
}

export class H2SendWatch implements SendProgress {
  readonly #stream: ServerHttp2Stream;
  readonly #answer: WatchedStream;
  readonly #deadline: SendDeadline;

  constructor(stream: ServerHttp2Stream, answer: WatchedStream, ms: number) {
    this.#stream = stream;
    this.#answer = answer;
    this.#deadline = new SendDeadline(this, { ms, field: 'limits.http2.send_timeout' }, () => {
      if (!this.closed) answer.sendTimedOut(this.#deadline.limit);
    });
  }

  /** What the stream still holds after end() must reach the client too: closed is the stream's, not the sink's. */
  get closed(): boolean {
    return this.#stream.closed || this.#stream.destroyed;
  }

  get pendingBytes(): number {
    return this.#answer.pendingBytes;
  }

  get flushedBytes(): number {
    return this.#answer.flushedBytes;
  }

  /** `untilDrain`: a write waits, its 'drain' stops the deadline (after end(), the stream's close does). */
  watch(untilDrain: boolean): void {
    if (this.#deadline.armed) return;
    this.#deadline.watch();
    if (!untilDrain) return;
    // The drain's listener is made at the first write left waiting: after end() none is.
    this.#drained ??= () => this.#deadline.stop();
    this.#stream.once('drain', this.#drained);
  }

  #drained: (() => void) | undefined;

  /** The stream closed: nothing more is watched. */
  stop(): void {
    this.#deadline.stop();
  }
}
