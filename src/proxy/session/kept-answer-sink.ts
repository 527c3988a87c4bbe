import type { Socket } from 'node:net';
import type { ResponseSink } from '../../core/net/downstream.ts';

/** An upstream's answer as the gateway keeps it for itself: its head, as the one head builder made it, and its whole body. */
export interface KeptAnswer {
  readonly status: number;
  /** Flat [name, value, …]: the upstream's fields, hop-by-hop ones out, Via and X-Request-Id in (response-headers.ts). */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

/**
 * The sink of an answer the gateway asked for itself (an auth service's verdict): nobody reads
 * it downstream, the gateway reads it here. It keeps the head and the body, `maxBody` bytes at
 * most: past them it keeps nothing more and cuts the answer (its upstream connection closes,
 * as a client that leaves closes it), and `overflowed` says why, so nothing is dropped unsaid.
 * Every write is taken at once: nothing ever waits for this sink.
 */
export class KeptAnswerSink implements ResponseSink {
  headSent = false;
  finished = false;
  closed = false;
  readonly cutByDrain = false;
  readonly pendingBytes = 0;
  flushedBytes = 0;
  /** The body passed `maxBody`: the answer was cut here, not by its upstream. */
  overflowed = false;
  status = 0;
  headers: readonly string[] = [];
  readonly #maxBody: number;
  readonly #chunks: Buffer[] = [];
  readonly #closeCallbacks: ((finished: boolean) => void)[] = [];

  constructor(maxBody: number) {
    this.#maxBody = maxBody;
  }

  /** The answer, once its head came (its body as far as it is kept). */
  answer(): KeptAnswer {
    return { status: this.status, headers: this.headers, body: Buffer.concat(this.#chunks) };
  }

  sendContinue(): void {}

  /** An interim answer is not the verdict: not kept. */
  sendInterim(): boolean {
    return false;
  }

  sendHead(status: number, _reason: string, headers: readonly string[]): void {
    this.headSent = true;
    this.status = status;
    this.headers = headers;
  }

  holdUntilTurnEnd(): void {}

  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    if (this.flushedBytes + chunk.length > this.#maxBody) {
      this.overflowed = true;
      this.abort();
      return true;
    }
    this.flushedBytes += chunk.length;
    this.#chunks.push(chunk);
    return true;
  }

  onDrain(): void {}

  onSendTimeout(): void {}

  /** The answer's trailers say nothing a verdict reads. */
  end(): void {
    if (this.closed) return;
    this.finished = true;
    this.#close(true);
  }

  abort(): void {
    if (this.closed) return;
    this.#close(false);
  }

  onClose(callback: (finished: boolean) => void): void {
    if (this.closed) callback(this.finished);
    else this.#closeCallbacks.push(callback);
  }

  switchProtocols(): { socket: Socket; rest: Buffer } | undefined {
    return undefined;
  }

  #close(finished: boolean): void {
    this.closed = true;
    for (const callback of this.#closeCallbacks.splice(0)) callback(finished);
  }
}
