/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112, RFC 9110) for client connections:
 * the request side of answer-parser.ts, and what the gateway's own server reads with.
 *
 * Strict because a gateway that frames a request differently from the server behind it is a
 * request-smuggling hop: anything that leaves the end of a request in doubt (bare CR or LF,
 * obs-fold, Content-Length with Transfer-Encoding, a list or a second Content-Length, a
 * Transfer-Encoding not ending in chunked) is refused with the status RFC 9112 gives, and
 * the connection closes. It parses syntax and framing only; what a well-framed request may
 * ask (Host, the target's form, methods the gateway refuses) is the accept phase's to judge.
 *
 * One message at a time: once a request is complete the parser stops and says how many bytes
 * it did not read (`leftover`), so the connection decides when the next pipelined request is
 * parsed (one request at a time per connection), and `next()` starts it.
 */
import { ChunkedDecoder } from './chunked-decoder.ts';
import { readFieldLines } from './field-lines.ts';
import type {
  RequestFraming,
  RequestParseError,
  RequestParserHandler,
  RequestParserLimits,
} from './parsed-request.ts';
import { chunkedBreak, fieldLineBreak, headTooLargeBreak, lineEndsBreak } from './request-faults.ts';
import { chunkedFramingBreak, RequestFramingFields } from './request-framing-fields.ts';
import { lineParts, parseRequestLine } from './request-line.ts';
import { PartialHeadCheck } from './request-partial-head.ts';
import { malformed, type RuleBreak } from './request-rules.ts';
import { SplitSection, WholeHead } from './section-bytes.ts';
import { CR, CRLF, LF, latin1 } from './syntax.ts';

const S_HEAD = 0;
const S_BODY_LENGTH = 1;
/** A chunked body up to the end of its last-chunk line: the ChunkedDecoder's. */
const S_CHUNKED = 2;
const S_TRAILERS = 3;
const S_DONE = 4;
const S_DEAD = 5;
/**
 * The framing fields of the head being parsed, for every parser: read at each head and used up
 * before its handler hears of it (a parser is made a connection, and one of these was 80 bytes
 * of it, issue 61).
 */
const FRAMING_FIELDS = new RequestFramingFields();
export class RequestParser {
  readonly #handler: RequestParserHandler;
  readonly #limits: RequestParserLimits;
  #state = S_HEAD;
  #error: RequestParseError | undefined;
  #left = 0;
  #started = false;
  /** Body bytes still expected ('length'). */
  #remaining = 0;
  /** The route's body limit the chunked body being read was given (limitBody), for the refusal's words. */
  #bodyLimit = 0;
  /** Made at the first chunked body (most connections never send one). */
  #chunked: ChunkedDecoder | undefined;
  /** A head or trailer section split across execute() calls: only these bytes are kept. */
  readonly #section = new SplitSection();
  /**
   * A head being collected in pieces, checked as they come (a bad line fails before the head
   * ends): made at the first such head (most connections' heads come whole, and a parser is made
   * a connection: 88 bytes each, issue 61).
   */
  #partial: PartialHeadCheck | undefined;
  /** A head that came whole in one read, found in the text of the read's first bytes. */
  readonly #whole = new WholeHead();
  #refusedHead = '';
  /** Before the request line: a CR came last in a read, its LF is due. */
  #crPending = false;

  constructor(handler: RequestParserHandler, limits: RequestParserLimits) {
    this.#handler = handler;
    this.#limits = limits;
  }

  /** Bytes of the last execute() input not read because the request completed. */
  get leftover(): number {
    return this.#left;
  }

  /**
   * After a refusal in a head: the head's bytes as far as they came (latin1, at most the head
   * limit), so that the answer and its log line can name the request (its id, Host, Accept).
   */
  get refusedHead(): string {
    return this.#refusedHead;
  }

  /** True once a byte of the current request (blank lines before it aside) arrived. */
  get started(): boolean {
    return this.#started;
  }

  /** The head was handed over and the request is not complete yet. */
  get inBody(): boolean {
    return this.#state !== S_HEAD && this.#state !== S_DONE && this.#state !== S_DEAD;
  }

  /** The current request is complete: execute() reads nothing more until next(). */
  get complete(): boolean {
    return this.#state === S_DONE;
  }

  /** Starts the next request on the connection. */
  next(): void {
    this.#state = S_HEAD;
    this.#error = undefined;
    this.#left = 0;
    this.#started = false;
    this.#remaining = 0;
    this.#crPending = false;
    this.#refusedHead = '';
    this.#resetAcc();
  }

  /**
   * The connection gives up on a head that did not come whole (its header timeout, the
   * client's FIN): the parser stays dead, and the head's whole lines so far are kept as a
   * refused head's are, so the answer and its log line name the request (its method, path,
   * Accept, X-Request-Id) rather than nothing.
   */
  abandon(status: number, code: string, details: string): RequestParseError {
    if (this.#state !== S_DEAD) {
      this.#fail(status, code, details);
      const lastLine = this.#refusedHead.lastIndexOf('\r\n');
      // A line cut short is not named: its value may be half of what the client meant.
      this.#refusedHead = lastLine === -1 ? '' : this.#refusedHead.slice(0, lastLine + 2);
    }
    return this.#error as RequestParseError;
  }

  /**
   * Feeds bytes. Returns undefined while all is well, the refusal on invalid input (the parser
   * then stays dead). After onComplete it stops: `leftover` says how many bytes it left.
   */
  execute(data: Buffer): RequestParseError | undefined {
    this.#left = 0;
    if (this.#state === S_DEAD) return this.#error;
    const len = data.length;
    if (this.#state === S_DONE) {
      this.#left = len;
      return undefined;
    }
    let pos = 0;
    while (pos < len) {
      switch (this.#state) {
        case S_HEAD:
          pos = this.#readHead(data, pos);
          break;
        case S_BODY_LENGTH:
          pos = this.#readLength(data, pos);
          break;
        case S_CHUNKED: {
          // (S_CHUNKED is entered only once the decoder is made: #parseHead.)
          const chunked = this.#chunked as ChunkedDecoder;
          pos = chunked.step(data, pos);
          if (pos < 0) this.#chunkError();
          else if (chunked.lastChunk) this.#state = S_TRAILERS;
          break;
        }
        case S_TRAILERS:
          pos = this.#readTrailers(data, pos);
          break;
      }
      if (pos < 0) return this.#error;
      if (this.#state === S_DONE) {
        this.#left = len - pos;
        return undefined;
      }
    }
    return undefined;
  }

  #fail(status: number, code: string, details: string): number {
    const inBody = this.inBody;
    // What came of a refused head, for the answer and the log line (request id, Accept, Host).
    // (A head parsed whole is named by #parseWholeHead once this returns.)
    if (!inBody)
      this.#refusedHead =
        this.#section.bytes === undefined
          ? ''
          : wholeLines(latin1(this.#section.bytes, 0, this.#section.length));
    this.#error = { status, code, details, inBody };
    this.#state = S_DEAD;
    this.#resetAcc();
    return -1;
  }

  /** #fail with a rule the request broke, for the steps that answer true or false. */
  #refuse(broken: RuleBreak): false {
    this.#broken(broken);
    return false;
  }

  /** #fail with the status, code and details of a rule the request broke. */
  #broken(broken: RuleBreak): number {
    return this.#fail(broken.status, broken.code, broken.details);
  }

  /**
   * The route's body limit, once the route is known (a chunked body only: a declared length is
   * judged whole from its head). A chunk-size line that takes the sum of the chunk sizes past it
   * is refused as it is read (413), not counted up to as its data trickles in. Returns the
   * refusal when the sizes read so far already pass it (the parser is then dead, as after any).
   */
  limitBody(limit: number): RequestParseError | undefined {
    if (this.#state !== S_CHUNKED) return undefined;
    this.#bodyLimit = limit;
    if ((this.#chunked as ChunkedDecoder).limit(limit)) return undefined;
    this.#chunkError();
    return this.#error;
  }

  /** The chunked decoder's fault, under llhttp's names for it. */
  #chunkError(): number {
    return this.#broken(chunkedBreak(this.#chunked as ChunkedDecoder, this.#bodyLimit));
  }

  // --- head ----------------------------------------------------------------------------------

  #readHead(data: Buffer, pos: number): number {
    const max = this.#limits.headerSize;
    if (this.#section.length === 0) {
      // RFC 9112 §2.2: empty lines before a request line are ignored (a client's stray CRLF
      // after a body); they are not part of the request and count toward no limit.
      if (!this.#started) {
        pos = this.#skipEmptyLines(data, pos);
        if (pos === data.length || pos < 0) return pos;
        this.#started = true;
      }
      // The common case: the whole head in one buffer, parsed straight from the text it was
      // found in (WholeHead: no Buffer#indexOf, a call into node's C++, and no second copy).
      const whole = this.#whole;
      const text = whole.find(data, pos);
      if (text !== undefined && whole.end + 2 <= max) {
        // A CR or LF out of place fails the line checks in #parseHead, which then names it.
        return this.#parseWholeHead(text, whole.end) ? this.#afterHead(pos + whole.end + 2) : -1;
      }
    }
    const old = this.#section.length;
    const end = this.#section.collect(data, pos, max);
    // Past the limit: a line that ended before it and is bad is the first fault (a 400, as it
    // is when the rest comes in a later read), not the size the client would be told to cut.
    if (end === -1)
      return this.#checkPartialHead(old)
        ? this.#broken(headTooLargeBreak(this.#section.bytes as Buffer, this.#section.length, this.#limits))
        : -1;
    if (end === 0) return this.#checkPartialHead(old) ? data.length : -1;
    const text = latin1(this.#section.bytes as Buffer, 0, end - 2);
    this.#resetAcc();
    return this.#parseWholeHead(text, text.length) ? this.#afterHead(pos + end - old) : -1;
  }

  /** Past the CRLFs before a request line (a CR may end one read and its LF begin the next). */
  #skipEmptyLines(data: Buffer, pos: number): number {
    const len = data.length;
    if (this.#crPending) {
      if (data[pos] !== LF) return this.#broken(malformed('HPE_LF_EXPECTED', 'bare CR'));
      this.#crPending = false;
      pos++;
    }
    while (pos < len && data[pos] === CR) {
      if (pos + 1 === len) {
        this.#crPending = true;
        return len;
      }
      if (data[pos + 1] !== LF) return this.#broken(malformed('HPE_LF_EXPECTED', 'bare CR'));
      pos += 2;
    }
    return pos;
  }

  /** Every CR in [from, end) begins a CRLF and every LF ends one; false once refused. */
  #checkLineEnds(buf: Buffer, from: number, end: number): boolean {
    const broken = lineEndsBreak(buf, from, end);
    return broken === undefined || this.#refuse(broken);
  }

  /**
   * Checks on a head that is not complete yet: a client speaking another protocol, or a
   * malformed request line, is refused now rather than at the header timeout.
   */
  #checkPartialHead(from: number): boolean {
    const acc = (this.#section.bytes as Buffer).subarray(0, this.#section.length);
    this.#partial ??= new PartialHeadCheck();
    const broken = this.#partial.check(acc, from, this.#limits);
    return broken === undefined || this.#refuse(broken);
  }

  /**
   * Parses the head text[0, end) (what follows it in `text` is not the head's). A refused one is
   * kept whole then, not held in a field while it is parsed: a new string stored into the parser,
   * an old object, takes the write barrier's slow path, every request.
   */
  #parseWholeHead(text: string, end: number): boolean {
    if (this.#parseHead(text, end)) return true;
    this.#refusedHead = text.slice(0, end);
    return false;
  }

  /**
   * Parses a head (request line and field lines, each ending in CRLF: text[0, end)) and
   * prepares the body state.
   */
  #parseHead(text: string, end: number): boolean {
    const eol = text.indexOf('\r\n');
    const broken = parseRequestLine(text.slice(0, eol), this.#limits);
    if (broken !== undefined) return this.#refuse(broken);
    const { method, target, minor } = lineParts;
    const headers = this.#parseFields(text, eol + 2, end);
    if (headers === undefined) return false;

    const fields = FRAMING_FIELDS;
    const lengthBreak = fields.read(headers);
    if (lengthBreak !== undefined) return this.#refuse(lengthBreak);
    const { contentLength, lengths } = fields;

    let framing: RequestFraming = 'none';
    if (fields.te !== undefined) {
      const teBreak = chunkedFramingBreak(fields.te, lengths, minor);
      if (teBreak !== undefined) return this.#refuse(teBreak);
      // Codings under chunked are framed like any chunked body; the accept phase answers 501 for them.
      framing = 'chunked';
      this.#state = S_CHUNKED;
      this.#chunked ??= new ChunkedDecoder(this.#handler);
      this.#chunked.reset();
    } else if (contentLength > 0) {
      framing = 'length';
      this.#state = S_BODY_LENGTH;
      this.#remaining = contentLength;
    } else {
      this.#state = S_BODY_LENGTH;
      this.#remaining = 0;
    }
    this.#handler.onHead({
      method,
      target,
      versionMinor: minor,
      headers,
      framing,
      contentLength: framing === 'length' ? contentLength : lengths > 0 ? 0 : -1,
      keepAlive: !fields.close && (minor === 1 || fields.keepAliveToken),
      // RFC 9110 §7.8: an HTTP/1.0 request's Upgrade is ignored (and no 101 may go to its client).
      upgrade: minor === 1 && fields.upgradeToken && fields.upgradeField,
    });
    return true;
  }

  /** After onHead: a request without a body completes at once. */
  #afterHead(pos: number): number {
    if (this.#state === S_BODY_LENGTH && this.#remaining === 0) this.#complete(undefined);
    return pos;
  }

  /** Field lines from text[pos, end), every one ending in CRLF, as name, value pairs; undefined once refused. */
  #parseFields(text: string, pos: number, end = text.length): string[] | undefined {
    // RFC 9112 §5.1: whitespace between a name and the colon is a 400 in a request.
    const fields = readFieldLines(text, pos, false, end);
    if (Array.isArray(fields)) return fields;
    this.#refuse(fieldLineBreak(fields));
    return undefined;
  }

  // --- bodies --------------------------------------------------------------------------------

  #readLength(data: Buffer, pos: number): number {
    const avail = data.length - pos;
    if (avail < this.#remaining) {
      this.#remaining -= avail;
      this.#handler.onBody(pos === 0 ? data : data.subarray(pos));
      return data.length;
    }
    const end = pos + this.#remaining;
    this.#remaining = 0;
    this.#handler.onBody(pos === 0 && end === data.length ? data : data.subarray(pos, end));
    this.#complete(undefined);
    return end;
  }

  #readTrailers(data: Buffer, pos: number): number {
    if (this.#section.length === 0) {
      // The common case: no trailer fields, just the final CRLF.
      if (data.length - pos >= 2 && data[pos] === CR && data[pos + 1] === LF) {
        this.#complete(undefined);
        return pos + 2;
      }
      // Starts from the last-chunk line's CRLF so that an empty section is found like a full one.
      this.#section.append(CRLF, 0, 2);
    }
    const old = this.#section.length;
    const max = this.#limits.headerSize + 2;
    const end = this.#section.collect(data, pos, max);
    if (end === -1) return this.#fail(431, 'HPE_HEADER_OVERFLOW', 'request trailer section too large');
    const acc = this.#section.bytes as Buffer;
    if (end === 0)
      return this.#checkLineEnds(acc.subarray(0, this.#section.length), old - 1, this.#section.length)
        ? data.length
        : -1;
    if (!this.#checkLineEnds(acc, old > 3 ? old - 3 : 0, end - 2)) return -1;
    const text = latin1(acc, 2, end - 2);
    this.#resetAcc();
    const trailers = this.#parseFields(text, 0);
    if (trailers === undefined) return -1;
    this.#complete(trailers.length === 0 ? undefined : trailers);
    return pos + end - old;
  }

  #complete(trailers: string[] | undefined): void {
    this.#state = S_DONE;
    this.#handler.onComplete(trailers);
  }

  #resetAcc(): void {
    this.#section.reset();
    this.#partial?.reset();
  }
}

/**
 * A refused head as far as it came, without the field line the refusal cut short (the head
 * limit fell inside it): its value may be half of what the client meant, and an X-Request-Id cut
 * to its first characters would be adopted, or logged as the client's, as an id it never sent.
 * A request line cut short is kept: its method and the first of its target name the request.
 */
function wholeLines(head: string): string {
  // A bare LF ends a line too (the refusal may be for it): that line's value came whole.
  const lastLine = head.lastIndexOf('\n');
  return lastLine === -1 ? head : head.slice(0, lastLine + 1);
}
