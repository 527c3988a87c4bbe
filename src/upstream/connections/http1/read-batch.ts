/**
 * One read of an HTTP/1.1 connection to an upstream (connection.ts), while the parser goes over
 * it: the body pieces it holds, passed on as one buffer once the parser returns (a response of
 * many small chunks costs one downstream write per read, not one per chunk: 10^6 one-byte chunks
 * are about 600 reads, not 10^6 writes), and a completion in it, which waits until the whole read
 * is seen (whether the connection can carry another request depends on the rest of the read).
 */
export class ReadBatch {
  /** Inside the parser's run over one read. */
  reading = false;
  readonly #pieces: Buffer[] = [];
  /** The response completed in the read being parsed; its trailers. */
  completed = false;
  trailers: string[] | undefined = undefined;

  add(piece: Buffer): void {
    this.#pieces.push(piece);
  }

  /**
   * The pieces of the read, as one buffer (undefined: none), let go. `copy`: the read's bytes are
   * overwritten by the next read (direct-reads.ts), so one piece is copied out (several are, joined).
   */
  take(copy: boolean): Buffer | undefined {
    const pieces = this.#pieces;
    if (pieces.length === 0) return undefined;
    // pop(), not `length = 0`, for the one piece of most reads: an array's length set is a call
    // into V8's runtime (with done()'s, 0.3 % of the worker's CPU under perf at c50 keep-alive).
    if (pieces.length === 1) return copy ? Buffer.from(pieces.pop() as Buffer) : pieces.pop();
    const body = Buffer.concat(pieces);
    pieces.length = 0;
    return body;
  }

  complete(trailers: string[] | undefined): void {
    this.completed = true;
    this.trailers = trailers;
  }

  /** The read is over, parsed or not: what it held is let go. */
  done(): void {
    this.reading = false;
    if (this.#pieces.length !== 0) this.#pieces.length = 0;
  }

  /** The exchange ended: a completion noted is not the next one's. */
  forget(): void {
    this.completed = false;
    this.trailers = undefined;
  }
}
