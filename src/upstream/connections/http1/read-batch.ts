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

  /** The pieces of the read, as one buffer (undefined: none), let go. */
  take(): Buffer | undefined {
    const pieces = this.#pieces;
    if (pieces.length === 0) return undefined;
    const body = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
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
    this.#pieces.length = 0;
  }

  /** The exchange ended: a completion noted is not the next one's. */
  forget(): void {
    this.completed = false;
    this.trailers = undefined;
  }
}
