import { InMemorySink } from '../../core/net/in-memory-sink.ts';
import type { ServiceAnswer } from '../stages/service-call.ts';

/**
 * The sink of an answer the gateway asked for itself (an auth service's verdict): nobody reads
 * it downstream, the gateway reads it here. It keeps the head and the body, `maxBody` bytes at
 * most: past them it keeps nothing more and cuts the answer (its upstream connection closes,
 * as a client that leaves closes it), and `overflowed` says why, so nothing is dropped unsaid.
 * Every write is taken at once: nothing ever waits for this sink.
 */
export class KeptAnswerSink extends InMemorySink {
  /** The body passed `maxBody`: the answer was cut here, not by its upstream. */
  overflowed = false;
  status = 0;
  headers: readonly string[] = [];
  readonly #maxBody: number;
  readonly #chunks: Buffer[] = [];

  constructor(maxBody: number) {
    super();
    this.#maxBody = maxBody;
  }

  /** The answer, once its head came (its body as far as it is kept). */
  answer(): ServiceAnswer {
    const body = Buffer.concat(this.#chunks);
    return { status: this.status, headers: this.headers, body, cut: this.overflowed };
  }

  override sendHead(status: number, reason: string, headers: readonly string[]): void {
    super.sendHead(status, reason, headers);
    this.status = status;
    this.headers = headers;
  }

  override write(chunk: Buffer): boolean {
    if (this.closed) return true;
    const room = this.#maxBody - this.flushedBytes;
    if (chunk.length <= room) {
      this.#chunks.push(chunk);
      return super.write(chunk);
    }
    // What fits is kept: an answer read cut is cut at maxBody exactly, not short of it by a chunk.
    if (room > 0) {
      this.#chunks.push(chunk.subarray(0, room));
      super.write(chunk.subarray(0, room));
    }
    this.overflowed = true;
    this.abort();
    return true;
  }
}
