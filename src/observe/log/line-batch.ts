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
  /** Where the line being built in place began (openLine): dropLine() cuts the batch back to it. */
  #lineStart = 0;

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
   * Starts a line built in place, piece by piece, with the put methods below (the access line:
   * access-log.ts), so that no string of the whole line is made only to be copied here.
   */
  openLine(): void {
    this.#lineStart = this.#length;
  }

  /** Takes back what was put since openLine() (a line rebuilt, or dropped). */
  dropLine(): void {
    this.#length = this.#lineStart;
  }

  /**
   * Appends `text`, in UTF-8; returns whether it is plain, what JSON carries as it is (printable
   * ASCII without a quote or a backslash), checked while it is copied. A line's pieces are short
   * (ids, names, a path): a loop here costs less than a call into Buffer's native write each.
   */
  put(text: string): boolean {
    const count = text.length;
    if (this.#bytes.length - this.#length < count) this.#grow(count);
    const bytes = this.#bytes;
    let at = this.#length;
    let plain = true;
    for (let i = 0; i < count; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) {
        // Past ASCII: the rest through the encoder, with room for three bytes a code unit.
        this.#length = at;
        this.add(text.slice(i));
        return false;
      }
      if (code < 0x20 || code === 0x22 || code === 0x5c || code === 0x7f) plain = false;
      bytes[at++] = code;
    }
    this.#length = at;
    return plain;
  }

  /**
   * Appends `bytes` (a line's pieces made once: line-members.ts). In one copy: a loop a byte at a
   * time cost some 1–3 ns a byte, TypedArray.set some 20 ns whatever the length.
   */
  putBytes(bytes: Uint8Array): void {
    const count = bytes.length;
    if (this.#bytes.length - this.#length < count) this.#grow(count);
    this.#bytes.set(bytes, this.#length);
    this.#length += count;
  }

  /** Cuts the line back to `length` bytes of the batch (a piece written again another way). */
  cutTo(length: number): void {
    this.#length = length;
  }

  /** A copy of the bytes put from `start` (a batch length) on. */
  copyFrom(start: number): Uint8Array {
    return new Uint8Array(this.#bytes.subarray(start, this.#length));
  }

  /** Appends one byte (a quote). */
  putByte(byte: number): void {
    if (this.#bytes.length === this.#length) this.#grow(1);
    this.#bytes[this.#length++] = byte;
  }

  /** Appends the decimal digits of `n`, a whole number under 10^15, as `${n}` writes them. */
  putDigits(n: number): void {
    let digits = 1;
    for (let power = 10; power <= n; power *= 10) digits++;
    if (this.#bytes.length - this.#length < digits) this.#grow(digits);
    const bytes = this.#bytes;
    let at = this.#length + digits;
    this.#length = at;
    do {
      const rest = Math.floor(n / 10);
      bytes[--at] = 0x30 + n - rest * 10;
      n = rest;
    } while (n > 0);
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
