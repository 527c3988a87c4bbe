/**
 * What one client connection may have held for it in the gateway, shared by the exchanges on
 * it: request bodies read whole, responses waiting for the client to take them, and the
 * compressors of its compressing responses (compressing-sink.ts: native memory, the same whatever
 * the body's size). HTTP/2 carries up to `max_concurrent_streams` exchanges on one connection, each bounded by its
 * route's `limits.buffer`; this bounds them together (`limits.http2.connection_buffer`), so a
 * client that does not read holds its budget, not a hundred buffers. An HTTP/1.1 connection
 * carries one exchange at a time and has none: the exchange's own bound is its connection's.
 */
export class BufferBudget {
  readonly limit: number;
  /** Bytes held now, as the exchanges have reported them. */
  held = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes that may still be held; negative once past the limit. */
  get room(): number {
    return this.limit - this.held;
  }

  /** `bytes` more are held (negative: fewer). */
  add(bytes: number): void {
    this.held += bytes;
  }
}
