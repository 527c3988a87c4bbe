/**
 * A strict, incremental HTTP/1.1 response parser (RFC 9112, RFC 9110) for upstream connections.
 *
 * Strict because Candor re-frames every body it forwards: any doubt about where a response
 * ends (bare LF, obs-fold, conflicting Content-Length, a coding it cannot undo) is a request
 * smuggling risk, so it is a named failure instead of a guess. Fast because it runs once per
 * upstream response: the head is found with one native search, converted to a string once
 * and split with indexOf; body bytes are only ever sliced, never looped over in JS.
 */

import { Failure } from '../failure/failure.ts';
import { InterimHeads } from '../limits/interim-heads.ts';
import { ChunkedDecoder } from './chunked-decoder.ts';
import { EndedLinesCheck, type FieldError, MAX_FIELDS, readFieldLines } from './field-lines.ts';
import { IDENTIFY_BYTES } from './impostors.ts';
import { fieldFaultDetails, notHttpDetails } from './response-faults.ts';
import { ResponseFramingFields } from './response-framing-fields.ts';
import { PartialLineCheck } from './response-partial-line.ts';
import {
  type DecodableCoding,
  NO_CODINGS,
  normaliseContentLength,
  switchRefusal,
  transferCodings,
} from './response-rules.ts';
import { SplitSection } from './section-bytes.ts';
import { CR, CRLF, CRLFCRLF, INVALID_VALUE, LF, latin1, snippet } from './syntax.ts';

export type Framing = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  /** 100..599. */
  readonly status: number;
  /** Reason phrase, '' when absent. */
  readonly reason: string;
  /** 0 or 1 (HTTP/1.x; a minor above 1 is treated as 1). */
  readonly versionMinor: number;
  /** Flat [name, value, name, value, ...]: names as received (case kept), values with leading/trailing OWS removed. */
  readonly headers: string[];
  /**
   * How the body is delimited. A body with transfer codings under `chunked` says 'chunked':
   * the connection decodes them, so what it passes on is the content, to be framed anew.
   */
  readonly framing: Framing;
  /**
   * Transfer codings to undo, in the order to undo them (the reverse of the order applied);
   * empty for the usual plain `chunked` or no Transfer-Encoding at all.
   */
  readonly decode: readonly DecodableCoding[];
  /** For 'length'; -1 otherwise. */
  readonly contentLength: number;
  /**
   * The connection may carry another request after this response: not after `Connection: close`,
   * a close-delimited body, an HTTP/1.0 response without `Connection: keep-alive`, or a
   * `Keep-Alive: max=0` or `max=1` (see parseHead).
   */
  readonly keepAlive: boolean;
  /** Seconds the upstream said it keeps the connection idle (`Keep-Alive: timeout=N`, the smallest said), or -1. */
  readonly keepAliveTimeout: number;
}

export interface ResponseParserHandler {
  /** A complete head. For 1xx (except 101) the parser then waits for the next head of the same response. */
  onHead(head: ResponseHead): void;
  /** Body bytes with chunked framing removed; may be subarrays of the input (no copy). */
  onBody(chunk: Buffer): void;
  /** The message is complete. trailers: flat [name, value, ...] of a chunked body's trailer section, or undefined. */
  onComplete(trailers: string[] | undefined): void;
}

export type FinishResult = 'complete' | 'idle' | 'head' | 'body';

// Parser states. Plain numbers keep the hot switch monomorphic.
const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_BODY_CLOSE = 2;
/** A chunked body up to the end of its last-chunk line: the ChunkedDecoder's. */
const S_CHUNKED = 3;
const S_TRAILERS = 4;
const S_DONE = 5;
const S_DEAD = 6;

const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

export class ResponseParser {
  private readonly handler: ResponseParserHandler;
  private readonly maxHeaderSize: number;

  private state = S_HEAD;
  private headRequest = false;
  /**
   * The request asked to switch protocols, to those its Upgrade field offers: a 101 to one of them
   * is then its final answer, and what follows is no longer HTTP. Undefined: it did not ask.
   */
  private upgradeOffer: string | undefined = undefined;
  /** Bumped by every public entry point: an execute() whose callback re-entered the parser stops there. */
  private epoch = 0;
  private failure: Failure | undefined = undefined;
  private finalHead = false;
  /** The interim (1xx) heads of this response so far: together they are held to the head limit. */
  private readonly interim: InterimHeads;
  private isStarted = false;
  private left = 0;
  /** Body bytes still expected ('length'). */
  private remaining = 0;
  private readonly chunked: ChunkedDecoder;

  /** A head or trailer section split across execute() calls: only these bytes are kept. */
  private readonly section = new SplitSection();
  /** The status line of the head being collected passed the early check (fail fast on non-HTTP bytes). */
  private statusLineChecked = false;
  /** In the head (or trailers) being collected: its field lines checked as they end. */
  private readonly ended = new EndedLinesCheck();
  /** The framing fields of the head being parsed, read again at each head. */
  private readonly framingFields = new ResponseFramingFields();
  /** The line of that head not ended yet: where it starts (-1: none looked at), and its check (made at the first head in pieces). */
  private partialStart = -1;
  private partial: PartialLineCheck | undefined = undefined;

  // The head being parsed; fields rather than a result object so parsing allocates nothing extra.
  private status = 0;
  private minor = 1;
  private reason = '';

  constructor(handler: ResponseParserHandler, maxHeaderSize: number) {
    this.handler = handler;
    this.maxHeaderSize = maxHeaderSize;
    this.interim = new InterimHeads(maxHeaderSize);
    this.chunked = new ChunkedDecoder(handler);
  }

  /** Bytes of the last execute() input not consumed because the response completed (or a callback re-entered). */
  get leftover(): number {
    return this.left;
  }

  /** The interim (1xx) heads of the current response so far. */
  get interimCount(): number {
    return this.interim.count;
  }

  /** True once any byte of the current response arrived. */
  get started(): boolean {
    return this.isStarted;
  }

  /**
   * True while a head is read in part: some of its bytes came, its end has not. Interim (1xx)
   * heads that came whole leave it false: the connection then ends before the final head, not
   * inside one (as an HTTP/2 upstream's does).
   */
  get inHead(): boolean {
    return this.state === S_HEAD && this.section.length > 0;
  }

  /** The bytes of a head read in part (see inHead), 0 otherwise: a timeout's details count them. */
  get headBytesSoFar(): number {
    return this.inHead ? this.section.length : 0;
  }

  /**
   * Before each response: whether the request was HEAD (then no status has a body) and, when it
   * asked for an upgrade, the protocols its Upgrade field offers (then a 101 switching to them
   * ends the response, and `leftover` counts the bytes after it, which belong to the new
   * protocol). Resets state for a new message.
   */
  expect(headRequest: boolean, upgradeOffer?: string): void {
    this.epoch++;
    this.state = S_HEAD;
    this.headRequest = headRequest;
    this.upgradeOffer = upgradeOffer;
    this.failure = undefined;
    this.finalHead = false;
    this.interim.reset();
    this.isStarted = false;
    this.left = 0;
    this.remaining = 0;
    this.resetAcc();
    this.statusLineChecked = false;
  }

  /**
   * Feeds bytes. Returns undefined while all is well, a Failure on invalid input (the parser is then
   * dead until expect()). After onComplete it stops: `leftover` says how many bytes were not consumed.
   */
  execute(data: Buffer): Failure | undefined {
    const epoch = ++this.epoch;
    this.left = 0;
    if (this.state === S_DEAD) return this.failure;
    const len = data.length;
    if (this.state === S_DONE) {
      this.left = len;
      return undefined;
    }
    if (len === 0) return undefined;
    this.isStarted = true;
    let pos = 0;
    while (pos < len) {
      switch (this.state) {
        case S_HEAD:
          pos = this.readHead(data, pos);
          break;
        case S_BODY_LENGTH:
          pos = this.readLength(data, pos);
          break;
        case S_BODY_CLOSE:
          this.handler.onBody(pos === 0 ? data : data.subarray(pos));
          pos = len;
          break;
        case S_CHUNKED:
          pos = this.chunked.step(data, pos);
          if (pos < 0) this.chunkError();
          else if (this.epoch === epoch && this.chunked.lastChunk) this.state = S_TRAILERS;
          break;
        case S_TRAILERS:
          pos = this.readTrailers(data, pos);
          break;
      }
      if (pos < 0) return this.failure;
      if (this.epoch !== epoch || this.state === S_DONE) {
        this.left = len - pos;
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * The connection ended cleanly. 'complete' when a close-delimited body ends here (onComplete is called
   * first), 'idle' when no byte of a response had arrived (or the response was already complete,
   * or only whole interim heads had), 'head' when it ended inside a head (or a failed head), 'body' inside a
   * length or chunked body (or after a failure in the body).
   */
  finish(): FinishResult {
    this.epoch++;
    switch (this.state) {
      case S_HEAD:
        return this.inHead ? 'head' : 'idle';
      case S_BODY_CLOSE:
        this.state = S_DONE;
        this.handler.onComplete(undefined);
        return 'complete';
      case S_DONE:
        return 'idle';
      case S_DEAD:
        return this.finalHead ? 'body' : 'head';
      default:
        return 'body';
    }
  }

  /** The chunked decoder's fault: a bare LF is a protocol error as in a head, the rest a broken transfer coding. */
  private chunkError(): number {
    const chunked = this.chunked;
    return this.fail(
      chunked.fault === 'bare-lf' ? 'http_protocol_error' : 'http_response_transfer_coding',
      chunked.faultDetails,
    );
  }

  /** Records a failure and returns -1, the steps' "stop" position. */
  private fail(type: Failure['type'], details: string): number {
    this.state = S_DEAD;
    this.failure = new Failure(type, details);
    this.resetAcc();
    return -1;
  }

  /** Counts an interim head of `size` bytes (its CRLFs included); false, failed, past the head limit. */
  private withinInterimBound(size: number): boolean {
    const flood = this.interim.add(size);
    if (flood === undefined) return true;
    this.protocolError(flood);
    return false;
  }

  private protocolError(details: string): number {
    return this.fail('http_protocol_error', details);
  }

  /** The answer is not HTTP/1.x: notHttpDetails names what sent it instead, when its first bytes say. */
  private notHttp(first: Buffer): false {
    this.protocolError(notHttpDetails(first));
    return false;
  }

  // --- head ----------------------------------------------------------------------------------

  private readHead(data: Buffer, pos: number): number {
    const max = this.maxHeaderSize;
    const epoch = this.epoch;
    if (this.section.length === 0) {
      // The common case: the whole head in one buffer, parsed straight from it.
      const i = data.indexOf(CRLFCRLF, pos);
      if (i !== -1) {
        if (i + 4 - pos > max) return this.tooLarge();
        return this.parseHead(latin1(data, pos, i + 2)) ? this.afterHead(i + 4, epoch) : -1;
      }
      if (data.length - pos >= max) return this.tooLarge();
    }
    const old = this.section.length;
    const end = this.section.collect(data, pos, max);
    if (end < 0) return this.tooLarge();
    if (end === 0) return this.checkPartialHead(old) ? data.length : -1;
    const text = latin1(this.section.bytes!, 0, end - 2);
    this.resetAcc();
    return this.parseHead(text) ? this.afterHead(pos + end - old, epoch) : -1;
  }

  private tooLarge(): number {
    return this.fail(
      'http_response_header_section_size',
      `response header section larger than ${this.maxHeaderSize} bytes`,
    );
  }

  /**
   * Checks on a head that is not complete yet, so that an upstream speaking another protocol (an SSH
   * banner, JSON, HTML) or ending lines with bare LF fails now rather than at the response timeout.
   */
  private checkPartialHead(from: number): boolean {
    const acc = this.section.bytes!.subarray(0, this.section.length);
    if (!this.statusLineChecked) {
      // First, so that another protocol is named as such even when its lines end in a bare LF.
      const n = Math.min(acc.length, HTTP_SLASH.length);
      if (acc.compare(HTTP_SLASH, 0, n, 0, n) !== 0) return this.notHttp(acc);
    }
    if (!this.checkLineEnds(acc, from, 'the response head')) return false;
    if (!this.statusLineChecked) {
      const lf = acc.indexOf(LF);
      if (lf === -1) return this.checkPartialLine(acc, 0, true);
      if (!this.parseStatusLine(latin1(acc, 0, lf - 1), lf - 1)) return false;
      this.statusLineChecked = true;
      this.ended.to = lf + 1;
    }
    // Lines that ended in the new bytes, then the one that has not (each byte looked at once).
    if (acc.indexOf(LF, from) !== -1 && !this.checkPartialFields(acc)) return false;
    return this.checkPartialLine(acc, this.ended.to, false);
  }

  /**
   * The line not ended yet, its new bytes only (PartialLineCheck): a byte no ending could make
   * valid fails now, not when the upstream goes quiet or closes.
   */
  private checkPartialLine(acc: Buffer, start: number, statusLine: boolean): boolean {
    // Made at the first head that comes in pieces: most connections never see one.
    this.partial ??= new PartialLineCheck(this.ended);
    const partial = this.partial;
    if (start !== this.partialStart) {
      this.partialStart = start;
      partial.begin(start, statusLine);
    }
    const fault = partial.check(acc, start, this.upgradeOffer !== undefined);
    if (fault === undefined) return true;
    if (typeof fault === 'string') this.protocolError(fault);
    else this.fieldError(fault);
    return false;
  }

  /**
   * The field lines completed since the last look, checked as they would be in the whole head,
   * so that a bad one fails now and not when the upstream stops talking (a timeout or a close,
   * which would blame the wrong thing and be retried). Each line is looked at once.
   */
  private checkPartialFields(acc: Buffer): boolean {
    const error = this.ended.check(acc, true);
    return error === undefined || this.fieldError(error);
  }

  /** Every LF from `from` on must follow a CR. */
  private checkLineEnds(acc: Buffer, from: number, where: string): boolean {
    for (let lf = acc.indexOf(LF, from); lf !== -1; lf = acc.indexOf(LF, lf + 1)) {
      if (lf === 0 || acc[lf - 1] !== CR) {
        this.protocolError(`bare LF line ending in ${where}`);
        return false;
      }
    }
    return true;
  }

  /** Parses a head (status line and field lines, each ending in CRLF) and prepares the body state. */
  private parseHead(text: string): boolean {
    const eol = text.indexOf('\r\n');
    if (!this.parseStatusLine(text, eol)) return false;
    const status = this.status;
    if (status === 101 && this.upgradeOffer === undefined) {
      this.protocolError('unexpected 101 Switching Protocols (no upgrade was requested)');
      return false;
    }
    if (status < 200 && status !== 101 && !this.withinInterimBound(text.length + 2)) return false;
    const headers: string[] = [];
    if (!this.parseFields(text, eol + 2, headers)) return false;
    if (status === 101) {
      const refused = switchRefusal(headers, this.upgradeOffer as string);
      if (refused !== undefined) {
        this.protocolError(refused);
        return false;
      }
    }

    const bodyless = this.headRequest || status < 200 || status === 204 || status === 304;
    const fields = this.framingFields;
    fields.read(headers);
    const { lengthFields, lengthError, te } = fields;
    let contentLength = fields.contentLength;

    let framing: Framing;
    let decode: DecodableCoding[] = NO_CODINGS;
    if (bodyless) {
      // No body follows whatever the fields say; a valid Content-Length is the representation's.
      // Both framings at once is the smuggling signature whatever the status or method (RFC 9112
      // §6.3: the Content-Length could only be forwarded removed; llhttp refuses it on a HEAD's
      // answer and a 304 too), and the same head must not be a 502 to a GET and relayed to a HEAD.
      if (te !== undefined && lengthFields > 0)
        return this.badCoding('Transfer-Encoding together with Content-Length');
      if (lengthError !== undefined) return this.badLength(lengthError);
      framing = 'none';
    } else if (te !== undefined) {
      // Checked before the Content-Length values: with both present, the conflict is the fault.
      if (lengthFields > 0) return this.badCoding('Transfer-Encoding together with Content-Length');
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      if (this.minor === 0) return this.badCoding('Transfer-Encoding in an HTTP/1.0 response');
      const codings = transferCodings(te);
      if (typeof codings === 'string') return this.badCoding(codings);
      decode = codings;
      framing = 'chunked';
    } else if (lengthError !== undefined) {
      return this.badLength(lengthError);
    } else if (contentLength !== -1) {
      framing = 'length';
    } else {
      framing = 'close';
    }
    // One Content-Length in canonical form, whatever came: a duplicate or a list passed on as
    // received is refused by the next parser (llhttp does), while this hop called it valid.
    if (lengthFields > 1 || !fields.lengthCanonical) normaliseContentLength(headers, contentLength);
    if (framing !== 'length') contentLength = -1;

    // `max=M` counts the requests the upstream still takes on the connection, but not all alike:
    // Apache counts those left after this one (its last reusable answer says max=1, the next one
    // Connection: close), others this one too. Read as the last either way: at worst a connection
    // opens one request early, where the other reading risks a POST written to a socket being
    // closed (502 not_idempotent).
    const lastByMax = fields.keepAliveMax !== -1 && fields.keepAliveMax <= 1;
    const keepAlive =
      framing !== 'close' && !fields.close && !lastByMax && (this.minor === 1 || fields.keepAliveToken);
    this.enterBody(status, framing, contentLength);
    this.handler.onHead({
      status,
      reason: this.reason,
      versionMinor: this.minor,
      headers,
      framing,
      decode,
      contentLength,
      keepAlive,
      keepAliveTimeout: fields.keepAliveTimeout,
    });
    return true;
  }

  /** Where the parser goes after a head: past the switch, into the final head's body, or to the next head after a 1xx. */
  private enterBody(status: number, framing: Framing, contentLength: number): void {
    if (status === 101) {
      // The switch: this head is the last HTTP on the connection.
      this.finalHead = true;
      this.state = S_DONE;
    } else if (status >= 200) {
      this.finalHead = true;
      if (framing === 'chunked') {
        this.state = S_CHUNKED;
        this.chunked.reset();
      } else if (framing === 'close') this.state = S_BODY_CLOSE;
      else {
        this.state = S_BODY_LENGTH;
        this.remaining = framing === 'length' ? contentLength : 0;
      }
    } else {
      // A 1xx: the same response's next head follows.
      this.statusLineChecked = false;
      this.partialStart = -1;
    }
  }

  /** After onHead: a body of zero bytes completes at once (unless onHead re-entered the parser). */
  private afterHead(pos: number, epoch: number): number {
    if (this.epoch === epoch && this.state === S_BODY_LENGTH && this.remaining === 0)
      this.complete(undefined);
    return pos;
  }

  private badLength(details: string): false {
    this.fail('http_response_content_length', details);
    return false;
  }

  private badCoding(details: string): false {
    this.fail('http_response_transfer_coding', details);
    return false;
  }

  /** `HTTP/<digit>.<digit> SP <3 digits> [SP reason]` in text[0..end). Sets status, minor and reason. */
  private parseStatusLine(text: string, end: number): boolean {
    if (!text.startsWith('HTTP/')) return this.notHttp(Buffer.from(text.slice(0, IDENTIFY_BYTES), 'latin1'));
    if (
      end < 12 ||
      !isDigit(text, 5) ||
      text.charCodeAt(6) !== 0x2e ||
      !isDigit(text, 7) ||
      text.charCodeAt(8) !== 0x20 ||
      !isDigit(text, 9) ||
      !isDigit(text, 10) ||
      !isDigit(text, 11) ||
      (end > 12 && text.charCodeAt(12) !== 0x20)
    ) {
      const line = text.slice(0, end);
      this.protocolError(
        line.includes('\n')
          ? 'bare LF line ending in the status line'
          : `invalid status line ${snippet(line)}`,
      );
      return false;
    }
    const major = text.charCodeAt(5) - 0x30;
    const minor = text.charCodeAt(7) - 0x30;
    if (major !== 1) {
      this.protocolError(`unsupported HTTP version "HTTP/${major}.${minor}"`);
      return false;
    }
    const status =
      (text.charCodeAt(9) - 0x30) * 100 + (text.charCodeAt(10) - 0x30) * 10 + (text.charCodeAt(11) - 0x30);
    if (status < 100 || status > 599) {
      this.protocolError(`status code ${text.slice(9, 12)} out of range`);
      return false;
    }
    const reason = end > 13 ? text.slice(13, end) : '';
    if (reason !== '' && INVALID_VALUE.test(reason)) {
      this.protocolError(
        reason.includes('\n')
          ? 'bare LF line ending in the status line'
          : 'invalid character in the reason phrase',
      );
      return false;
    }
    this.status = status;
    this.minor = minor === 0 ? 0 : 1;
    this.reason = reason;
    return true;
  }

  /** Field lines from text[pos..], every one ending in CRLF, into out as name, value pairs. */
  private parseFields(text: string, pos: number, out: string[]): boolean {
    // RFC 9112 §5.1: whitespace before the colon is removed by a proxy, not forwarded.
    const error = readFieldLines(text, pos, out, true);
    return error === undefined || this.fieldError(error);
  }

  /** A field line's fault, in the words of a response's failure (of its head, or its trailer section). */
  private fieldError(error: FieldError): false {
    if (error.fault === 'too-many') {
      if (this.state === S_TRAILERS)
        this.fail('http_response_trailer_section_size', `more than ${MAX_FIELDS} trailer fields`);
      else this.fail('http_response_header_section_size', `more than ${MAX_FIELDS} header fields`);
      return false;
    }
    this.protocolError(fieldFaultDetails(error));
    return false;
  }

  // --- bodies --------------------------------------------------------------------------------

  private readLength(data: Buffer, pos: number): number {
    const avail = data.length - pos;
    const epoch = this.epoch;
    if (avail < this.remaining) {
      this.remaining -= avail;
      this.handler.onBody(pos === 0 ? data : data.subarray(pos));
      return data.length;
    }
    const end = pos + this.remaining;
    this.remaining = 0;
    this.handler.onBody(pos === 0 && end === data.length ? data : data.subarray(pos, end));
    if (this.epoch === epoch) this.complete(undefined);
    return end;
  }

  private readTrailers(data: Buffer, pos: number): number {
    if (this.section.length === 0) {
      // The common case: no trailer fields, just the final CRLF.
      if (data.length - pos >= 2 && data[pos] === CR && data[pos + 1] === LF) {
        this.complete(undefined);
        return pos + 2;
      }
      // Start from the last-chunk line's CRLF so that an empty section is found like a full one.
      this.section.append(CRLF, 0, 2);
    }
    const old = this.section.length;
    const end = this.section.collect(data, pos, this.maxHeaderSize + 2);
    if (end < 0)
      return this.fail(
        'http_response_trailer_section_size',
        `response trailer section larger than ${this.maxHeaderSize} bytes`,
      );
    if (end === 0) {
      const acc = this.section.bytes!.subarray(0, this.section.length);
      if (!this.checkLineEnds(acc, old, 'the trailer section')) return -1;
      // Whole trailer lines are checked as they come, like a head's: a bad one fails now, not
      // when the upstream closes (which would read as a body cut short).
      if (this.ended.to === 0) this.ended.to = 2;
      if (acc.indexOf(LF, old) !== -1 && !this.checkPartialFields(acc)) return -1;
      return this.checkPartialLine(acc, this.ended.to, false) ? data.length : -1;
    }
    const text = latin1(this.section.bytes!, 2, end - 2);
    this.resetAcc();
    const trailers: string[] = [];
    if (!this.parseFields(text, 0, trailers)) return -1;
    this.complete(trailers.length === 0 ? undefined : trailers);
    return pos + end - old;
  }

  private complete(trailers: string[] | undefined): void {
    this.state = S_DONE;
    this.handler.onComplete(trailers);
  }

  private resetAcc(): void {
    this.section.reset();
    this.ended.reset();
    this.partialStart = -1;
  }
}
