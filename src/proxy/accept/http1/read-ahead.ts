/**
 * What a client pipelined behind the request being answered (http1-connection.ts), kept unparsed
 * and in order until that request's response is finished: made at the first such bytes (most
 * connections never pipeline), let go when they are taken.
 */

/** Bytes of pipelined requests kept unparsed behind the one being answered before the socket is not read. */
const PIPELINE_READ_AHEAD_BYTES = 16 * 1024;

export class ReadAhead {
  readonly #chunks: Buffer[] = [];
  /** The bytes kept. */
  bytes = 0;

  /** Kept after what came before it; true when past PIPELINE_READ_AHEAD_BYTES (the socket is not read then). */
  add(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    this.bytes += chunk.length;
    return this.full;
  }

  /** Past PIPELINE_READ_AHEAD_BYTES: the socket is not read until they are taken. */
  get full(): boolean {
    return this.bytes > PIPELINE_READ_AHEAD_BYTES;
  }

  /** The chunks, in the order they came. */
  get chunks(): readonly Buffer[] {
    return this.#chunks;
  }

  /** All of it as one buffer (what an upgrade's tunnel gets after the head). */
  joined(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}
