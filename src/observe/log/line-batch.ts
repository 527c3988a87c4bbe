/**
 * The lines a LineWriter has queued and not yet written, as the very bytes its next write takes:
 * each line is encoded once, as it comes, into storage kept from batch to batch. A queue of the
 * lines' strings instead cost every batch a join and then its encoding (two copies of every
 * line, and a string and a buffer the size of the batch): some 250 ns and 1.5 KB an access line.
 */

/** What a batch's storage starts at (the lines of a busy worker's 5 ms are some 100 KB). */
const FIRST_BYTES = 64 * 1024;
/** Storage past this, grown by a backlog, is given back once its batch is written. */
const KEPT_BYTES = 1024 * 1024;
const NONE = Buffer.alloc(0);

export class LineBatch {
  /** The batch's storage: its lines are its first `#length` bytes. */
  #bytes: Buffer = NONE;
  #length = 0;
  /**
   * The storage of the batch an asynchronous write took, still its until that write is done:
   * the next batch's once it is (one asynchronous write at a time: line-writer.ts).
   */
  #spare: Buffer = NONE;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  /** Appends `line` (its newline included), in UTF-8. */
  add(line: string): void {
    // A UTF-16 code unit is three UTF-8 bytes at most: with that much room the line is never cut
    // (a write past the room left writes only the characters that fit).
    const room = line.length * 3;
    if (this.#bytes.length - this.#length < room) this.#grow(room);
    this.#length += this.#bytes.write(line, this.#length);
  }

  /**
   * The batch's bytes, and the batch empty again. A synchronous write is done with them before
   * the next line comes, so their storage takes the next batch at once; `held`: an asynchronous
   * write holds them until it is done, and the next batch goes to the other storage.
   */
  take(held: boolean): Buffer {
    const bytes = this.#bytes.subarray(0, this.#length);
    this.#length = 0;
    if (held) {
      const free = this.#spare;
      this.#spare = this.#bytes;
      this.#bytes = free.length > KEPT_BYTES ? NONE : free;
    } else if (this.#bytes.length > KEPT_BYTES) this.#bytes = NONE;
    return bytes;
  }

  #grow(room: number): void {
    const size = Math.max(FIRST_BYTES, this.#bytes.length * 2, this.#length + room);
    const bytes = Buffer.allocUnsafeSlow(size);
    this.#bytes.copy(bytes, 0, 0, this.#length);
    this.#bytes = bytes;
  }
}
