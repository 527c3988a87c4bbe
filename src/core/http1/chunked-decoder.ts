/**
 * The chunked transfer coding (RFC 9112 §7.1), read the same way from a client's request
 * (request-parser.ts) and an upstream's response (answer-parser.ts): one decoder, so that a
 * chunk-size line, an extension or the CRLF after a chunk cannot mean one thing on the way in
 * and another on the way out.
 *
 * It takes the body from the first chunk-size line to the end of the last-chunk line; the
 * trailer section after it is a field section, the parser's to read. Chunk data goes to the
 * sink as subarrays of the input (no copy); only a chunk-size line split across reads is
 * copied, and it is bounded (MAX_CHUNK_LINE). Each `step` calls the sink at most once and then
 * returns, so a parser whose sink re-enters it (the response parser's does) sees it at once.
 * The codings a response may carry under chunked (gzip, deflate) are undone after it, by
 * transfer-decoder.ts.
 */
import { CR, HEX, isOws, isValueByte, LF, latin1, snippet, TCHAR } from './syntax.ts';

/** Longest chunk-size line (size and extensions, without the CRLF): llhttp has no bound, Candor names one. */
export const MAX_CHUNK_LINE = 4096;
/**
 * 13 significant hex digits is 2^52: any chunk size that fits stays a safe integer. Leading zeros
 * do not count (chunk-size is 1*HEXDIG, and a fixed-width writer pads: nginx and HAProxy read
 * `0000000000000005`); the line's own bound keeps a run of them finite.
 */
const MAX_CHUNK_DIGITS = 13;

/** What was wrong with a chunked body; `ChunkedDecoder.faultDetails` says it in words. */
export type ChunkFault = 'bare-lf' | 'size' | 'extension' | 'line-too-long' | 'missing-crlf' | 'too-large';

export interface ChunkSink {
  /** Chunk data, framing removed; a subarray of the input. */
  onBody(chunk: Buffer): void;
}

const D_SIZE = 0;
const D_DATA = 1;
const D_CR = 2;
const D_LF = 3;
const D_LAST = 4;

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR but DQUOTE and backslash, obs-text. */
const QDTEXT = new Uint8Array(256);
/** What may follow a backslash in a quoted-string: HTAB, SP, VCHAR, obs-text. */
const QUOTABLE = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const text = isValueByte(c);
  QUOTABLE[c] = text ? 1 : 0;
  QDTEXT[c] = text && c !== 0x22 && c !== 0x5c ? 1 : 0;
}

/**
 * Whether line[from, end) is chunk-ext (RFC 9112 §7.1.1):
 *   *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), name a token, value a
 * token or a quoted-string. Extensions are dropped (no hop after Candor sees them: the body is
 * framed anew), but one that breaks the grammar is a message the next parser may frame
 * differently, so it is refused. Bytes are looked at once each, without allocating.
 */
function isChunkExt(line: Buffer, from: number, end: number): boolean {
  let i = from;
  while (i < end) {
    while (i < end && isOws(line[i])) i++;
    if (i === end || line[i] !== 0x3b /* ; */) return false;
    i++;
    while (i < end && isOws(line[i])) i++;
    const name = i;
    while (i < end && TCHAR[line[i]] === 1) i++;
    if (i === name) return false;
    let eq = i;
    while (eq < end && isOws(line[eq])) eq++;
    if (eq === end || line[eq] !== 0x3d /* = */) continue;
    i = eq + 1;
    while (i < end && isOws(line[i])) i++;
    if (i < end && line[i] === 0x22 /* " */) {
      i++;
      for (;;) {
        if (i === end) return false;
        const c = line[i++];
        if (c === 0x22) break;
        if (c === 0x5c /* \ */) {
          if (i === end || QUOTABLE[line[i]] === 0) return false;
          i++;
        } else if (QDTEXT[c] === 0) return false;
      }
    } else {
      const value = i;
      while (i < end && TCHAR[line[i]] === 1) i++;
      if (i === value) return false;
    }
  }
  return true;
}

/** Whether text has a control other than HTAB, or DEL (for the failure's words only). */
function hasControl(line: Buffer, from: number, end: number): boolean {
  for (let i = from; i < end; i++) {
    if (!isValueByte(line[i])) return true;
  }
  return false;
}

export class ChunkedDecoder {
  readonly #sink: ChunkSink;
  #state = D_SIZE;
  /** Bytes of the current chunk still expected. */
  #remaining = 0;
  /** A chunk-size line split across reads: only these bytes are kept, at most MAX_CHUNK_LINE + 2. */
  #line: Buffer | undefined;
  #lineLen = 0;
  #fault: ChunkFault | undefined;
  #faultDetails = '';
  /**
   * The most the chunks may announce in all (a request's route body limit, told once the route
   * is known: `limit`), and what they announced so far: a chunk-size line past it is refused
   * as it is read, not counted up to as its data trickles in (nginx answers 413 at the line).
   */
  #limit = Number.POSITIVE_INFINITY;
  #announced = 0;

  constructor(sink: ChunkSink) {
    this.#sink = sink;
  }

  /** The last-chunk line was read: the trailer section follows, and it is the parser's. */
  get lastChunk(): boolean {
    return this.#state === D_LAST;
  }

  /** After `step` returned -1: what was wrong. */
  get fault(): ChunkFault | undefined {
    return this.#fault;
  }

  /** After `step` returned -1: the fault in words, printable, for a failure's details. */
  get faultDetails(): string {
    return this.#faultDetails;
  }

  /**
   * Bounds what the chunks of this body may announce in all. Returns false (and the decoder
   * faults, 'too-large') when those read so far already announced more.
   */
  limit(bytes: number): boolean {
    this.#limit = bytes;
    if (this.#announced <= bytes) return true;
    this.#failed('too-large', this.#tooLargeDetails());
    return false;
  }

  #tooLargeDetails(): string {
    return `its chunk sizes announce ${this.#announced} bytes`;
  }

  /** Starts a new chunked body. */
  reset(): void {
    this.#state = D_SIZE;
    this.#remaining = 0;
    this.#limit = Number.POSITIVE_INFINITY;
    this.#announced = 0;
    this.#line = undefined;
    this.#lineLen = 0;
    this.#fault = undefined;
    this.#faultDetails = '';
  }

  /**
   * Reads from data[pos]: a chunk-size line, chunk data (handed to the sink) or the CRLF after
   * it. Returns where it stopped, or -1 on a fault (`fault` says which; the decoder is then of
   * no further use until reset). Call again while bytes remain and `lastChunk` is false.
   */
  step(data: Buffer, pos: number): number {
    switch (this.#state) {
      case D_SIZE:
        return this.#readSize(data, pos);
      case D_DATA:
        return this.#readData(data, pos);
      case D_CR:
        if (data[pos] !== CR) return this.#failed('missing-crlf', 'missing CRLF after chunk data');
        this.#state = D_LF;
        return pos + 1;
      case D_LF:
        if (data[pos] !== LF) return this.#failed('missing-crlf', 'missing CRLF after chunk data');
        this.#state = D_SIZE;
        return pos + 1;
      default:
        return pos;
    }
  }

  #failed(fault: ChunkFault, details: string): number {
    this.#fault = fault;
    this.#faultDetails = details;
    this.#line = undefined;
    this.#lineLen = 0;
    return -1;
  }

  #tooLong(): number {
    return this.#failed('line-too-long', 'chunk-size line too long');
  }

  #readSize(data: Buffer, pos: number): number {
    const len = data.length;
    const lf = data.indexOf(LF, pos);
    if (lf === -1) {
      // +1: the line's CR may be the last byte here.
      if (this.#lineLen + len - pos > MAX_CHUNK_LINE + 1) return this.#tooLong();
      this.#append(data, pos, len);
      return len;
    }
    let line = data;
    let start = pos;
    let lineEnd = lf;
    if (this.#lineLen > 0) {
      if (this.#lineLen + lf - pos > MAX_CHUNK_LINE + 1) return this.#tooLong();
      this.#append(data, pos, lf + 1);
      line = this.#line as Buffer;
      start = 0;
      lineEnd = this.#lineLen - 1;
    }
    if (lineEnd === start || line[lineEnd - 1] !== CR)
      return this.#failed('bare-lf', 'bare LF line ending in a chunk-size line');
    const end = lineEnd - 1;
    if (end - start > MAX_CHUNK_LINE) return this.#tooLong();
    let size = 0;
    let i = start;
    let significant = start;
    for (; i < end; i++) {
      const v = HEX[line[i]];
      if (v < 0) break;
      if (size === 0 && v === 0) significant = i + 1;
      size = size * 16 + v;
    }
    if (i < end) {
      // Past the digits only chunk-ext may come, and it begins with BWS ";".
      let semi = i;
      while (semi < end && isOws(line[semi])) semi++;
      if (semi === end || line[semi] !== 0x3b) i = start;
    }
    if (i === start || i - significant > MAX_CHUNK_DIGITS)
      return this.#failed('size', `invalid chunk size ${snippet(latin1(line, start, end))}`);
    if (i < end && !isChunkExt(line, i, end))
      return this.#failed(
        'extension',
        hasControl(line, i, end)
          ? 'invalid character in a chunk extension'
          : `invalid chunk extension ${snippet(latin1(line, i, end))}`,
      );
    this.#line = undefined;
    this.#lineLen = 0;
    this.#announced += size;
    if (this.#announced > this.#limit) return this.#failed('too-large', this.#tooLargeDetails());
    if (size === 0) this.#state = D_LAST;
    else {
      this.#state = D_DATA;
      this.#remaining = size;
    }
    return lf + 1;
  }

  #readData(data: Buffer, pos: number): number {
    const avail = data.length - pos;
    if (avail < this.#remaining) {
      this.#remaining -= avail;
      this.#sink.onBody(pos === 0 ? data : data.subarray(pos));
      return data.length;
    }
    const end = pos + this.#remaining;
    this.#remaining = 0;
    // The CRLF after the data, when it is already in: saves two more steps.
    if (end + 2 <= data.length) {
      if (data[end] !== CR || data[end + 1] !== LF)
        return this.#failed('missing-crlf', 'missing CRLF after chunk data');
      this.#state = D_SIZE;
      this.#sink.onBody(data.subarray(pos, end));
      return end + 2;
    }
    this.#state = D_CR;
    this.#sink.onBody(pos === 0 && end === data.length ? data : data.subarray(pos, end));
    return end;
  }

  #append(src: Buffer, start: number, end: number): void {
    const need = this.#lineLen + end - start;
    let line = this.#line;
    if (line === undefined || line.length < need) {
      // Doubling keeps a line fed byte by byte linear; the bound above keeps it at 4 KiB or so.
      const grown = Buffer.allocUnsafe(Math.max(need, line === undefined ? 64 : line.length * 2));
      if (line !== undefined) line.copy(grown, 0, 0, this.#lineLen);
      this.#line = line = grown;
    }
    src.copy(line, this.#lineLen, start, end);
    this.#lineLen = need;
  }
}
