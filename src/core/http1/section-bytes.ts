/**
 * A head or trailer section that came in pieces, as both strict parsers (request-parser.ts,
 * answer-parser.ts) keep it until it is whole: only its bytes, in one buffer that doubles as
 * it fills, dropped once the section is whole.
 */
import { CRLFCRLF, latin1 } from './syntax.ts';

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

/**
 * The bytes a head's end is looked for in as text first (WholeHead), before a parser has read a
 * head: most heads fit, and the text of 512 bytes costs what that of 200 does (some 75 ns).
 */
const FIRST_WINDOW = 512;
/**
 * Past the last head, the bytes the next one's end is looked for in: heads from one upstream
 * are of a length, give or take a cookie. What is copied past the head is this much at most.
 */
const WINDOW_MARGIN = 128;
/** The longest text a head's end is looked for in: past it, in the bytes. */
const MAX_WINDOW = 8192;

/**
 * A head that came whole in one read, as a parser finds it there: the text it begins, and where
 * in it the head ends. One per parser, found again at each head (no object a head). The text is
 * handed back, not kept in a field: a new string stored into an old object takes the write
 * barrier's slow path (a parser's every head, issue 61).
 */
export class WholeHead {
  /** Where the head's empty line begins in the text find() gave; the head's bytes end 2 past it. */
  end = 0;
  /** The bytes the next head's end is looked for in as text. */
  #window = FIRST_WINDOW;

  /**
   * The text that begins with the head at data[pos..] when the head ends in `data` (the head is
   * text[0, end), up to the CRLF of its last line), else undefined. Its end is looked for in the
   * text of its first bytes (as many as the last head's and a margin), which a head that short
   * is then read from as it is: Buffer#indexOf is a call into node's C++ (some 40 ns more than
   * the string's own; 0.26 µs a request in a worker under perf, issue 61), and a slice of the
   * text would be a string read through its parent's (as much again in the parser's reads of
   * it). A longer head's end is looked for in the bytes after them.
   */
  find(data: Buffer, pos: number): string | undefined {
    const to = Math.min(data.length, pos + this.#window);
    const window = latin1(data, pos, to);
    const end = window.indexOf('\r\n\r\n');
    if (end !== -1) return this.#found(window, end + 2);
    if (to === data.length) return undefined;
    const i = data.indexOf(CRLFCRLF, to - 3);
    return i === -1 ? undefined : this.#found(latin1(data, pos, i + 2), i + 2 - pos);
  }

  #found(text: string, end: number): string {
    this.end = end;
    this.#window = Math.min(MAX_WINDOW, Math.max(FIRST_WINDOW, end + WINDOW_MARGIN));
    return text;
  }
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
