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
import { fieldFailure } from './answer-faults.ts';
import { AnswerFramingFields } from './answer-framing-fields.ts';
import { PartialSectionCheck } from './answer-partial-head.ts';
import type { PartialLineFault } from './answer-partial-line.ts';
import { switchRefusal } from './answer-rules.ts';
import { ChunkedDecoder } from './chunked-decoder.ts';
import { ANSWERS_READ, readFieldLines } from './field-lines.ts';
import type { AnswerParserHandler, FinishResult, Framing } from './parsed-answer.ts';
import { SplitSection, WholeHead } from './section-bytes.ts';
import { StatusLine } from './status-line.ts';
import { CR, CRLF, LF, latin1 } from './syntax.ts';

// Parser states. Plain numbers keep the hot switch monomorphic.
const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_BODY_CLOSE = 2;
/** A chunked body up to the end of its last-chunk line: the ChunkedDecoder's. */
const S_CHUNKED = 3;
const S_TRAILERS = 4;
const S_DONE = 5;
const S_DEAD = 6;
/** The framing fields of the head being parsed, for every parser: used up before its handler hears of it. */
const FRAMING_FIELDS = new AnswerFramingFields();

export class AnswerParser {
  private readonly handler: AnswerParserHandler;
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
  /** Made at the first chunked answer (nginx frames its short answers by length). */
  private chunked: ChunkedDecoder | undefined = undefined;

  /** A head or trailer section split across execute() calls: only these bytes are kept. */
  private readonly section = new SplitSection();
  /** A head (or trailers) collected in pieces, checked as they come: made at the first such section. */
  private partial: PartialSectionCheck | undefined = undefined;
  /** The status line of the head being parsed. */
  private readonly line = new StatusLine();
  /** The head being parsed, when it came whole in one read. */
  private readonly whole = new WholeHead();

  constructor(handler: AnswerParserHandler, maxHeaderSize: number) {
    this.handler = handler;
    this.maxHeaderSize = maxHeaderSize;
    this.interim = new InterimHeads(maxHeaderSize);
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
    this.partial?.nextHead();
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
          pos = (this.chunked as ChunkedDecoder).step(data, pos);
          if (pos < 0) this.chunkError();
          else if (this.epoch === epoch && (this.chunked as ChunkedDecoder).lastChunk)
            this.state = S_TRAILERS;
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
    const chunked = this.chunked as ChunkedDecoder;
    return this.fail(
      chunked.fault === 'bare-lf' ? 'http_protocol_error' : 'http_response_transfer_coding',
      chunked.faultDetails,
    );
  }

  /** Records a failure and returns -1, the steps' "stop" position. */
  private fail(type: Failure['type'], details: string): number {
    this.refuse(new Failure(type, details));
    return -1;
  }

  /** Records a failure, for the steps that answer true or false. */
  private refuse(failure: Failure): false {
    this.state = S_DEAD;
    this.failure = failure;
    this.resetAcc();
    return false;
  }

  /** Records a protocol error (the upstream does not speak HTTP/1.x as it must), for the steps that answer true or false. */
  private protocolError(details: string): false {
    return this.refuse(new Failure('http_protocol_error', details));
  }

  // --- head ----------------------------------------------------------------------------------

  private readHead(data: Buffer, pos: number): number {
    const max = this.maxHeaderSize;
    const epoch = this.epoch;
    if (this.section.length === 0) {
      // The common case: the whole head in one buffer, parsed straight from it.
      const whole = this.whole;
      const text = whole.find(data, pos);
      if (text !== undefined) {
        if (whole.end + 2 > max) return this.tooLarge();
        return this.parseHead(text, whole.end) ? this.afterHead(pos + whole.end + 2, epoch) : -1;
      }
      if (data.length - pos >= max) return this.tooLarge();
    }
    const old = this.section.length;
    const end = this.section.collect(data, pos, max);
    if (end < 0) return this.tooLarge();
    if (end === 0) return this.checkPartialHead(old) ? data.length : -1;
    const text = latin1(this.section.bytes!, 0, end - 2);
    this.resetAcc();
    return this.parseHead(text, text.length) ? this.afterHead(pos + end - old, epoch) : -1;
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
    this.partial ??= new PartialSectionCheck();
    const fault = this.partial.head(acc, from, this.line, this.upgradeOffer !== undefined);
    return fault === undefined || this.partialFault(fault);
  }

  /** A fault the checks of a section in pieces found: a protocol error's details, or a field line's. */
  private partialFault(fault: PartialLineFault): false {
    return typeof fault === 'string'
      ? this.protocolError(fault)
      : this.refuse(fieldFailure(fault, this.state === S_TRAILERS));
  }

  /**
   * Parses a head (status line and field lines, each ending in CRLF: text[0, end), the empty
   * line and maybe more after it) and prepares the body state.
   */
  private parseHead(text: string, end: number): boolean {
    const eol = text.indexOf('\r\n');
    const badLine = this.line.parse(text, eol, end);
    if (badLine !== undefined) return this.protocolError(badLine);
    const status = this.line.status;
    if (status === 101 && this.upgradeOffer === undefined)
      return this.protocolError('unexpected 101 Switching Protocols (no upgrade was requested)');
    // An interim head counts toward the bound on all of them (its CRLFs included).
    const flood = status < 200 && status !== 101 ? this.interim.add(end + 2) : undefined;
    if (flood !== undefined) return this.protocolError(flood);
    const headers = this.parseFields(text, eol + 2, end);
    if (headers === undefined) return false;
    if (status === 101) {
      const refused = switchRefusal(headers, this.upgradeOffer as string, this.line.minor);
      if (refused !== undefined) return this.protocolError(refused);
    }

    const bodyless = this.headRequest || status < 200 || status === 204 || status === 304;
    const fields = FRAMING_FIELDS;
    fields.read(headers, ANSWERS_READ);
    const refused = fields.frame(headers, bodyless, this.line.minor);
    if (refused !== undefined) return this.refuse(refused);
    const { framing, contentLength } = fields;
    this.enterBody(status, framing, contentLength);
    this.handler.onHead({
      status,
      reason: this.line.reason,
      versionMinor: this.line.minor,
      headers,
      framing,
      decode: fields.decode,
      contentLength,
      keepAlive: fields.keepAlive(this.line.minor),
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
        this.chunked ??= new ChunkedDecoder(this.handler);
        this.chunked.reset();
      } else if (framing === 'close') this.state = S_BODY_CLOSE;
      else {
        this.state = S_BODY_LENGTH;
        this.remaining = framing === 'length' ? contentLength : 0;
      }
    } else {
      // A 1xx: the same response's next head follows.
      this.partial?.nextHead();
    }
  }

  /** After onHead: a body of zero bytes completes at once (unless onHead re-entered the parser). */
  private afterHead(pos: number, epoch: number): number {
    if (this.epoch === epoch && this.state === S_BODY_LENGTH && this.remaining === 0)
      this.complete(undefined);
    return pos;
  }

  /** Field lines from text[pos, end), every one ending in CRLF, as name, value pairs; undefined once refused. */
  private parseFields(text: string, pos: number, end: number): string[] | undefined {
    // RFC 9112 §5.1: whitespace before the colon is removed by a proxy, not forwarded.
    const fields = readFieldLines(text, pos, true, end);
    if (Array.isArray(fields)) return fields;
    this.refuse(fieldFailure(fields, this.state === S_TRAILERS));
    return undefined;
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
      this.partial ??= new PartialSectionCheck();
      const fault = this.partial.trailers(acc, old, this.upgradeOffer !== undefined);
      return fault === undefined || this.partialFault(fault) ? data.length : -1;
    }
    const text = latin1(this.section.bytes!, 2, end - 2);
    this.resetAcc();
    const trailers = this.parseFields(text, 0, text.length);
    if (trailers === undefined) return -1;
    this.complete(trailers.length === 0 ? undefined : trailers);
    return pos + end - old;
  }

  private complete(trailers: string[] | undefined): void {
    this.state = S_DONE;
    this.handler.onComplete(trailers);
  }

  private resetAcc(): void {
    this.section.reset();
    this.partial?.reset();
  }
}
