import { type AnswerSink, CONNECTION_CLOSED, type SwitchedConnection } from './downstream.ts';

/**
 * A response sink with no client behind it, for an answer the gateway asked for itself (a stale
 * answer's background refresh, an auth service's verdict): every write is taken at once, so
 * nothing ever waits for it; the end or an abort closes it, once, and tells who asked. As it
 * stands it lets the answer go; a subclass keeps what it needs of it (kept-answer-sink.ts).
 */
export class InMemorySink implements AnswerSink {
  headSent = false;
  finished = false;
  closed = false;
  readonly cutByDrain = undefined;
  readonly cutBySend = undefined;
  readonly leftHow = CONNECTION_CLOSED;
  readonly pendingBytes = 0;
  flushedBytes = 0;
  /** The gateway dropped the answer (drop): what and why; the log names it, not a client's leaving. */
  dropped: string | undefined;
  readonly #closeCallbacks: ((finished: boolean) => void)[] = [];

  sendContinue(): void {}

  /** An interim answer is nobody's to read here. */
  sendInterim(): boolean {
    return false;
  }

  sendHead(_status: number, _reason: string, _headers: readonly string[]): void {
    this.headSent = true;
  }

  deferToTurnEnd(): void {}

  write(chunk: Buffer): boolean {
    this.flushedBytes += chunk.length;
    return true;
  }

  onDrain(): void {}

  /** Every write is taken at once: nothing ever waits for this sink. */
  onSendTimeout(): void {}

  /** The answer's trailers say nothing anyone here reads. */
  end(): void {
    if (this.closed) return;
    this.finished = true;
    this.#close(true);
  }

  abort(): void {
    if (this.closed) return;
    this.#close(false);
  }

  /**
   * The gateway will not use what comes (a refresh's answer it will not keep): closed unfinished,
   * so the upstream is read no further, and `why` (what it was, and why) is what its log says.
   */
  drop(why: string): void {
    if (this.closed) return;
    this.dropped = why;
    this.abort();
  }

  onClose(callback: (finished: boolean) => void): void {
    if (this.closed) callback(this.finished);
    else this.#closeCallbacks.push(callback);
  }

  switchProtocols(): SwitchedConnection | undefined {
    return undefined;
  }

  #close(finished: boolean): void {
    this.closed = true;
    for (const callback of this.#closeCallbacks.splice(0)) callback(finished);
  }
}
