/**
 * Response bytes held in memory for clients that have not taken them yet, and request bodies read
 * whole until their exchange ends (request-body.ts), summed over every client connection of this
 * process (`limits.buffer_total`; a cluster's workers split it). Each slow reader holds up to its
 * route's `limits.buffer` (and its HTTP/2 connection's budget); this bounds them together, or a
 * few hundred slow readers of large answers would hold a worker's memory a MiB or more each,
 * bounded only by `max_connections`. Past it a body being read whole streams, and a response
 * whose client falls behind holds no more: its rest goes through the spool file
 * (client-backpressure.ts), or its upstream waits for the client. A reload makes a new one with
 * the new bound on the same count (the bytes still held are counted until they are given back).
 */
export class ReaderMemory {
  readonly limit: number;
  /** Shared with the instances of earlier snapshots. */
  readonly #held: { bytes: number };

  constructor(limit: number, previous?: ReaderMemory) {
    this.limit = limit;
    this.#held = previous === undefined ? { bytes: 0 } : previous.#held;
  }

  /** Bytes held now. */
  get buffered(): number {
    return this.#held.bytes;
  }

  /** Bytes that may still be held; negative once past the limit. */
  get room(): number {
    return this.limit - this.#held.bytes;
  }

  /** `bytes` more are held (negative: fewer). */
  add(bytes: number): void {
    this.#held.bytes += bytes;
  }
}
