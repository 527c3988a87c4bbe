/**
 * A head or trailer section that came in pieces, as both strict parsers (request-parser.ts,
 * answer-parser.ts) keep it until it is whole: only its bytes, in one buffer that doubles as
 * it fills, dropped once the section is whole.
 */
import { CRLFCRLF } from './syntax.ts';

/** `acc` (its first `len` bytes kept) with src[start, end) after them: `acc` itself when it has room, else a larger copy. */
function appendBytes(acc: Buffer | undefined, len: number, src: Buffer, start: number, end: number): Buffer {
  const need = len + end - start;
  if (acc === undefined || acc.length < need) {
    // Doubling keeps a head fed byte by byte linear.
    const grown = Buffer.allocUnsafe(Math.max(need, acc === undefined ? 256 : acc.length * 2));
    if (acc !== undefined) acc.copy(grown, 0, 0, len);
    acc = grown;
  }
  src.copy(acc, len, start, end);
  return acc;
}

/**
 * Where the section in acc[0, len) ends, just past its CRLFCRLF, looked for from the bytes
 * added after the first `old` (and the three before them); -1 while it has not ended.
 */
function sectionEnd(acc: Buffer, len: number, old: number): number {
  const i = acc.subarray(0, len).indexOf(CRLFCRLF, old > 3 ? old - 3 : 0);
  return i === -1 ? -1 : i + 4;
}

/** A head or trailer section split across a parser's reads: only its bytes are kept. */
export class SplitSection {
  /** The section's bytes so far (its first `length`); undefined while none are kept. */
  bytes: Buffer | undefined = undefined;
  length = 0;

  /**
   * Adds data[pos..] to the section, at most up to `limit` bytes in all. Returns the end of the
   * section (just past its CRLFCRLF; `bytes` then holds exactly the section), 0 when more bytes
   * are needed, -1 when the limit is reached without a complete section.
   */
  collect(data: Buffer, pos: number, limit: number): number {
    const old = this.length;
    this.append(data, pos, pos + Math.min(data.length - pos, limit - old));
    const end = sectionEnd(this.bytes as Buffer, this.length, old);
    if (end !== -1) {
      this.length = end;
      return end;
    }
    return this.length >= limit ? -1 : 0;
  }

  append(src: Buffer, start: number, end: number): void {
    this.bytes = appendBytes(this.bytes, this.length, src, start, end);
    this.length += end - start;
  }

  reset(): void {
    this.bytes = undefined;
    this.length = 0;
  }
}
