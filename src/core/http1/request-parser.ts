/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112, RFC 9110) for client connections:
 * the request side of response-parser.ts, and what the gateway's own server reads with.
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
import { EndedLinesCheck, type FieldError, MAX_FIELDS, readFieldLines } from './field-lines.ts';
import { fieldLineBreak, lineEndBreak, partialLineBreak, requestLineBreak } from './request-faults.ts';
import { malformed, methodBreak, type RuleBreak, targetBreak } from './request-rules.ts';
import { appendBytes, sectionEnd } from './section-bytes.ts';
import { CR, CRLF, CRLFCRLF, LF, latin1, listMembers, nameIs, snippet, TOKEN } from './syntax.ts';

/**
 * Why a request was refused: the status to answer with, a code (llhttp's name for the same
 * fault where there is one, so log lines and answers read as they did before Candor parsed
 * requests itself) and the details for the answer and the log.
 */
export interface RequestParseError {
  readonly status: number;
  readonly code: string;
  readonly details: string;
  /** In the body (or trailers) of a request whose head was already handed over. */
  readonly inBody: boolean;
}

export type RequestFraming = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin, absolute, authority or asterisk form). */
  readonly target: string;
  /** 1.0 or 1.1: HTTP/1.2 to 1.9 are read as 1.1 (RFC 9112 §2.3), another major is refused. */
  readonly versionMinor: 0 | 1;
  /** Flat [name, value, name, value, ...]: names as received, values without surrounding OWS. */
  readonly headers: string[];
  readonly framing: RequestFraming;
  /** For 'length'; -1 otherwise. */
  readonly contentLength: number;
  /** The message allows another request on the connection (HTTP/1.1 without `close`, or 1.0 with `keep-alive`). */
  readonly keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` field: the client asks to switch protocols after this request. */
  readonly upgrade: boolean;
}

export interface RequestParserHandler {
  onHead(head: RequestHead): void;
  /** Body bytes with chunked framing removed; may be subarrays of the input (no copy). */
  onBody(chunk: Buffer): void;
  /** The request is complete. trailers: flat [name, value, ...] of a chunked body's trailer section, or undefined. */
  onComplete(trailers: string[] | undefined): void;
}

export interface RequestParserLimits {
  /** Largest head (request line and header section, CRLFs included); also the trailer section's bound. */
  readonly headerSize: number;
  /** A request line still open past the head limit, or longer than this, is a 414 rather than a 431. */
  readonly uriLength: number;
  /**
   * The listener reads a PROXY protocol header before HTTP (listen[].proxy_protocol): one where
   * a request line belongs is then a second one, not a balancer set up without the setting.
   */
  readonly proxyProtocol?: boolean;
  /**
   * How the listener serves HTTP/2 (listen[].http2), if it does: the preface's request line
   * reaches this parser only when it began a broken preface (a plain listener takes a whole one
   * first) or came on a TLS connection whose ALPN chose HTTP/1.1, not that HTTP/2 is not served.
   */
  readonly http2?: 'prior-knowledge' | 'alpn';
}

/** At most this many header (or trailer) fields: beyond it the section counts as too large (431). */
export const MAX_REQUEST_FIELDS = MAX_FIELDS;

const S_HEAD = 0;
const S_BODY_LENGTH = 1;
/** A chunked body up to the end of its last-chunk line: the ChunkedDecoder's. */
const S_CHUNKED = 2;
const S_TRAILERS = 3;
const S_DONE = 4;
const S_DEAD = 5;

/**
 * method SP request-target SP HTTP-version: one space each (RFC 9112 §3), the target visible
 * ASCII only (RFC 9112 §3.2: URI syntax; raw bytes above 0x7e are not, and llhttp refused them too).
 */
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP\/[0-9]\.[0-9]$/;

/** What a request head's framing fields say; the parser's one is read again at each head. */
class RequestFramingFields {
  /** The Content-Length, -1 for none. */
  contentLength = -1;
  /** Content-Length fields seen. */
  lengths = 0;
  /** Transfer-Encoding values, all fields' members in order. */
  te: string | undefined = undefined;
  close = false;
  keepAliveToken = false;
  /** `upgrade` among the Connection options, and an Upgrade field: both make an upgrade request. */
  upgradeToken = false;
  upgradeField = false;

  reset(): void {
    this.contentLength = -1;
    this.lengths = 0;
    this.te = undefined;
    this.close = false;
    this.keepAliveToken = false;
    this.upgradeToken = false;
    this.upgradeField = false;
  }
}

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
  #acc: Buffer | undefined;
  #accLen = 0;
  /** The request line of the head being collected was checked (a bad one fails before the head ends). */
  #lineChecked = false;
  /** In the head being collected: its field lines checked as they end. */
  readonly #ended = new EndedLinesCheck();
  /** The framing fields of the head being parsed, read again at each head. */
  readonly #framingFields = new RequestFramingFields();
  /** The head being parsed whole (for #refusedHead). */
  #headText: string | undefined;
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
    this.#lineChecked = false;
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
    if (!inBody)
      this.#refusedHead =
        this.#headText ?? (this.#acc === undefined ? '' : latin1(this.#acc, 0, this.#accLen));
    this.#headText = undefined;
    this.#error = { status, code, details, inBody };
    this.#state = S_DEAD;
    this.#resetAcc();
    return -1;
  }

  /** #fail for the steps that answer true or false. */
  #refuse(status: number, code: string, details: string): false {
    this.#fail(status, code, details);
    return false;
  }

  /** #fail with the status, code and details of a rule the request broke. */
  #broken(broken: RuleBreak): number {
    return this.#fail(broken.status, broken.code, broken.details);
  }

  #malformed(code: string, what: string): number {
    return this.#broken(malformed(code, what));
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
    const chunked = this.#chunked as ChunkedDecoder;
    if (chunked.fault === 'too-large')
      return this.#fail(
        413,
        'ERR_BODY_TOO_LARGE',
        `request body larger than the route's limit of ${this.#bodyLimit} bytes (${chunked.faultDetails})`,
      );
    const code =
      chunked.fault === 'line-too-long' ? 'HPE_CHUNK_EXTENSIONS_OVERFLOW' : 'HPE_INVALID_CHUNK_SIZE';
    return this.#fail(400, code, `invalid chunked framing (${chunked.faultDetails})`);
  }

  // --- head ----------------------------------------------------------------------------------

  #readHead(data: Buffer, pos: number): number {
    const max = this.#limits.headerSize;
    if (this.#accLen === 0) {
      // RFC 9112 §2.2: empty lines before a request line are ignored (a client's stray CRLF
      // after a body); they are not part of the request and count toward no limit.
      if (!this.#started) {
        pos = this.#skipEmptyLines(data, pos);
        if (pos === data.length || pos < 0) return pos;
        this.#started = true;
      }
      // The common case: the whole head in one buffer, parsed straight from it.
      const i = data.indexOf(CRLFCRLF, pos);
      if (i !== -1 && i + 4 - pos <= max) {
        // A CR or LF out of place fails the line checks in #parseHead, which then names it.
        return this.#parseWholeHead(latin1(data, pos, i + 2)) ? this.#afterHead(i + 4) : -1;
      }
    }
    const old = this.#accLen;
    const end = this.#collect(data, pos, max);
    // Past the limit: a line that ended before it and is bad is the first fault (a 400, as it
    // is when the rest comes in a later read), not the size the client would be told to cut.
    if (end === -1) return this.#checkPartialHead(old) ? this.#tooLarge() : -1;
    if (end === 0) return this.#checkPartialHead(old) ? data.length : -1;
    const text = latin1(this.#acc as Buffer, 0, end - 2);
    this.#resetAcc();
    return this.#parseWholeHead(text) ? this.#afterHead(pos + end - old) : -1;
  }

  /** Past the CRLFs before a request line (a CR may end one read and its LF begin the next). */
  #skipEmptyLines(data: Buffer, pos: number): number {
    const len = data.length;
    if (this.#crPending) {
      if (data[pos] !== LF) return this.#malformed('HPE_LF_EXPECTED', 'bare CR');
      this.#crPending = false;
      pos++;
    }
    while (pos < len && data[pos] === CR) {
      if (pos + 1 === len) {
        this.#crPending = true;
        return len;
      }
      if (data[pos + 1] !== LF) return this.#malformed('HPE_LF_EXPECTED', 'bare CR');
      pos += 2;
    }
    return pos;
  }

  #tooLarge(): number {
    const acc = this.#acc as Buffer;
    const lineEnd = acc.subarray(0, this.#accLen).indexOf(LF);
    // A request line that never ended, or a target longer than the target limit: the target is
    // the fault. (The target, between the line's first and last spaces: not the whole line,
    // whose method and version would make a target at the limit a 414 for its fields' fault.)
    const first = acc.indexOf(0x20);
    const last = lineEnd === -1 ? -1 : acc.lastIndexOf(0x20, lineEnd);
    const target = first !== -1 && first < last ? last - first - 1 : lineEnd;
    return lineEnd === -1 || target > this.#limits.uriLength
      ? this.#fail(414, 'HPE_HEADER_OVERFLOW', 'request target too long')
      : this.#fail(431, 'HPE_HEADER_OVERFLOW', 'request header section too large');
  }

  /**
   * Every CR in [from, end) must begin a CRLF and every LF end one (RFC 9112 §2.2: a bare CR
   * must be refused, and a bare LF would make a head other parsers read differently).
   */
  #checkLineEnds(buf: Buffer, from: number, end: number): boolean {
    for (let i = buf.indexOf(LF, from); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) {
      if (i === 0 || buf[i - 1] !== CR) return this.#lineEndError('\n');
    }
    for (let i = buf.indexOf(CR, from); i !== -1 && i < end; i = buf.indexOf(CR, i + 1)) {
      // A CR last in what came so far may still be followed by its LF.
      if (i + 1 < end && buf[i + 1] !== LF) return this.#lineEndError('\r');
    }
    return true;
  }

  /** Names a bare LF or CR (a line that holds one failed the line checks because of it). */
  #lineEndError(c: string): false {
    this.#broken(lineEndBreak(c));
    return false;
  }

  /**
   * Checks on a head that is not complete yet: a client speaking another protocol, or a
   * malformed request line, is refused now rather than at the header timeout.
   */
  #checkPartialHead(from: number): boolean {
    const acc = (this.#acc as Buffer).subarray(0, this.#accLen);
    let checkFrom = from > 0 ? from - 1 : 0;
    if (!this.#lineChecked) {
      // In the order the bytes came: the request line's faults before those of later lines.
      const lf = acc.indexOf(LF);
      const lineEnd = lf === -1 ? acc.length : lf + 1;
      if (!this.#checkLineEnds(acc, checkFrom, lineEnd)) return false;
      if (lf === -1) {
        // The method so far must be a token (the usual garbage, TLS to a plain port, fails at once).
        const space = acc.indexOf(0x20);
        const method = latin1(acc, 0, space === -1 ? acc.length : space);
        if (method !== '' && !TOKEN.test(method)) {
          this.#malformed('HPE_INVALID_METHOD', 'invalid method');
          return false;
        }
        // A target past its limit, or a version gone wrong, is known before the line ends.
        const end = acc[acc.length - 1] === CR ? acc.length - 1 : acc.length;
        const broken = partialLineBreak(
          latin1(acc, 0, end),
          this.#limits.uriLength,
          this.#limits.proxyProtocol === true,
        );
        if (broken !== undefined) {
          this.#broken(broken);
          return false;
        }
        return true;
      }
      this.#lineChecked = true;
      if (this.#parseRequestLine(latin1(acc, 0, lf - 1)) === undefined) return false;
      checkFrom = lineEnd;
      this.#ended.to = lineEnd;
    }
    return this.#checkLineEnds(acc, checkFrom, acc.length) && this.#checkPartialFields(acc);
  }

  /**
   * The field lines completed since the last look, checked as the whole head will be: a client
   * sending a bad one and then nothing gets its 400 now, not a 408 at the header timeout that
   * would log garbage as a slow client. Each line is looked at once.
   */
  #checkPartialFields(acc: Buffer): boolean {
    const error = this.#ended.check(acc, false);
    return error === undefined || this.#fieldError(error);
  }

  /** `method SP target SP HTTP/d.d`: the parts, or undefined when refused. */
  #parseRequestLine(line: string): [string, string, 0 | 1] | undefined {
    // Tested, not matched (no match array a request): the line's shape once known, its parts
    // are where it says, the version in the last nine characters (" HTTP/d.d").
    if (!REQUEST_LINE.test(line)) {
      this.#broken(requestLineBreak(line, this.#limits.proxyProtocol === true));
      return undefined;
    }
    const space = line.indexOf(' ');
    const method = line.slice(0, space);
    const target = line.slice(space + 1, line.length - 9);
    const major = line[line.length - 3];
    const minor = line[line.length - 1];
    // RFC 9112 §2.3: a minor version above 1 (HTTP/1.2) is read as HTTP/1.1, the highest of its
    // major this parser implements (nginx and Go do the same); only another major is refused.
    if (major !== '1') {
      // The HTTP/2 connection preface: prior knowledge this listener does not have.
      if (method === 'PRI' && target === '*' && major === '2') {
        const h2 = this.#limits.http2;
        if (h2 === 'prior-knowledge')
          this.#fail(400, 'HPE_PAUSED_H2_UPGRADE', 'malformed HTTP/2 connection preface');
        else
          this.#fail(
            505,
            'HPE_PAUSED_H2_UPGRADE',
            h2 === 'alpn'
              ? 'HTTP/2 on this listener is chosen by TLS ALPN (h2): this connection chose HTTP/1.1'
              : 'HTTP/2 is not supported on this listener',
          );
      } else {
        this.#fail(505, 'HPE_INVALID_VERSION', `HTTP/${major}.${minor} is not supported on this listener`);
      }
      return undefined;
    }
    // The line's syntax holds (REQUEST_LINE): what is left is a method the gateway does not
    // know, and the authority of an absolute-form target (an origin-form one needs no more).
    const broken =
      methodBreak(method) ?? (target.charCodeAt(0) === 0x2f /* / */ ? undefined : targetBreak(target));
    if (broken !== undefined) {
      this.#broken(broken);
      return undefined;
    }
    return [method, target, minor === '0' ? 0 : 1];
  }

  #parseWholeHead(text: string): boolean {
    this.#headText = text;
    const ok = this.#parseHead(text);
    this.#headText = undefined;
    return ok;
  }

  /** Parses a head (request line and field lines, each ending in CRLF) and prepares the body state. */
  #parseHead(text: string): boolean {
    const eol = text.indexOf('\r\n');
    const line = this.#parseRequestLine(text.slice(0, eol));
    if (line === undefined) return false;
    const [method, target, minor] = line;
    const headers: string[] = [];
    if (!this.#parseFields(text, eol + 2, headers)) return false;

    const fields = this.#framingFields;
    if (!this.#readFramingFields(headers, fields)) return false;
    const { contentLength, lengths } = fields;

    let framing: RequestFraming = 'none';
    if (fields.te !== undefined) {
      if (!this.#chunkedFramingHolds(fields.te, lengths, minor)) return false;
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

  /**
   * Reads the framing fields of a head into `fields` (the parser's one, read again at each head:
   * nothing allocated per request); false once it refused the request for its Content-Length.
   */
  #readFramingFields(headers: readonly string[], fields: RequestFramingFields): boolean {
    fields.reset();
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      switch (name.length) {
        case 7:
          if (nameIs(name, 'upgrade')) fields.upgradeField = true;
          break;
        case 10:
          if (nameIs(name, 'connection')) {
            const value = headers[i + 1];
            if (nameIs(value, 'close')) fields.close = true;
            else if (nameIs(value, 'keep-alive')) fields.keepAliveToken = true;
            else
              for (const token of listMembers(value)) {
                if (token === 'close') fields.close = true;
                else if (token === 'keep-alive') fields.keepAliveToken = true;
                else if (token === 'upgrade') fields.upgradeToken = true;
              }
          }
          break;
        case 14:
          if (nameIs(name, 'content-length')) {
            // RFC 9112 §6.3: a second Content-Length, even an agreeing one, is refused; a
            // request is no place to guess which one the next hop believes.
            if (++fields.lengths > 1)
              return this.#refuse(
                400,
                'HPE_UNEXPECTED_CONTENT_LENGTH',
                'more than one Content-Length header',
              );
            const value = headers[i + 1];
            fields.contentLength = /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
            if (fields.contentLength === -1)
              return this.#refuse(
                400,
                'HPE_INVALID_CONTENT_LENGTH',
                `invalid Content-Length ${snippet(value)}`,
              );
          }
          break;
        case 17:
          if (nameIs(name, 'transfer-encoding'))
            fields.te = fields.te === undefined ? headers[i + 1] : `${fields.te},${headers[i + 1]}`;
          break;
      }
    }
    return true;
  }

  /** A Transfer-Encoding's codings end in chunked, applied once, alone as the framing; false once refused. */
  #chunkedFramingHolds(te: string, lengths: number, minor: 0 | 1): boolean {
    // RFC 9112 §6.1: the pair is a smuggling attempt or a broken client; either way, no guess.
    if (lengths > 0)
      return this.#refuse(
        400,
        'HPE_UNEXPECTED_CONTENT_LENGTH',
        'both Content-Length and Transfer-Encoding: the framing is ambiguous',
      );
    if (minor === 0)
      return this.#refuse(400, 'HPE_INVALID_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = listMembers(te);
    // RFC 9112 §6.3 rule 4: without chunked last the length cannot be known: 400 and close.
    if (codings[codings.length - 1] !== 'chunked')
      return this.#refuse(
        400,
        'HPE_INVALID_TRANSFER_ENCODING',
        'Transfer-Encoding must end in chunked: the body length cannot be known',
      );
    // RFC 9112 §6.1: chunked MUST NOT be applied twice; hops would de-frame it differently.
    if (codings.indexOf('chunked') !== codings.length - 1)
      return this.#refuse(
        400,
        'HPE_INVALID_TRANSFER_ENCODING',
        'chunked applied more than once: the body length cannot be known',
      );
    return true;
  }

  /** After onHead: a request without a body completes at once. */
  #afterHead(pos: number): number {
    if (this.#state === S_BODY_LENGTH && this.#remaining === 0) this.#complete(undefined);
    return pos;
  }

  /** Field lines from text[pos..], every one ending in CRLF, into out as name, value pairs. */
  #parseFields(text: string, pos: number, out: string[]): boolean {
    // RFC 9112 §5.1: whitespace between a name and the colon is a 400 in a request.
    const error = readFieldLines(text, pos, out, false);
    return error === undefined || this.#fieldError(error);
  }

  /** A field line's fault, under llhttp's names for it. */
  #fieldError(error: FieldError): false {
    this.#broken(fieldLineBreak(error));
    return false;
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
    if (this.#accLen === 0) {
      // The common case: no trailer fields, just the final CRLF.
      if (data.length - pos >= 2 && data[pos] === CR && data[pos + 1] === LF) {
        this.#complete(undefined);
        return pos + 2;
      }
      // Starts from the last-chunk line's CRLF so that an empty section is found like a full one.
      this.#append(CRLF, 0, 2);
    }
    const old = this.#accLen;
    const max = this.#limits.headerSize + 2;
    const end = this.#collect(data, pos, max);
    if (end === -1) return this.#fail(431, 'HPE_HEADER_OVERFLOW', 'request trailer section too large');
    const acc = this.#acc as Buffer;
    if (end === 0)
      return this.#checkLineEnds(acc.subarray(0, this.#accLen), old - 1, this.#accLen) ? data.length : -1;
    if (!this.#checkLineEnds(acc, old > 3 ? old - 3 : 0, end - 2)) return -1;
    const text = latin1(acc, 2, end - 2);
    this.#resetAcc();
    const trailers: string[] = [];
    if (!this.#parseFields(text, 0, trailers)) return -1;
    this.#complete(trailers.length === 0 ? undefined : trailers);
    return pos + end - old;
  }

  #complete(trailers: string[] | undefined): void {
    this.#state = S_DONE;
    this.#handler.onComplete(trailers);
  }

  // --- accumulation of split heads and trailers -------------------------------

  /**
   * Adds data[pos..] to the accumulated section, at most up to `limit` bytes in all. Returns
   * the end of the section in the accumulator (just past its CRLFCRLF), 0 when more bytes are
   * needed, -1 when the limit is reached without a complete section.
   */
  #collect(data: Buffer, pos: number, limit: number): number {
    const old = this.#accLen;
    this.#append(data, pos, pos + Math.min(data.length - pos, limit - old));
    const end = sectionEnd(this.#acc as Buffer, this.#accLen, old);
    if (end !== -1) {
      this.#accLen = end;
      return end;
    }
    return this.#accLen >= limit ? -1 : 0;
  }

  #append(src: Buffer, start: number, end: number): void {
    this.#acc = appendBytes(this.#acc, this.#accLen, src, start, end);
    this.#accLen += end - start;
  }

  #resetAcc(): void {
    this.#acc = undefined;
    this.#accLen = 0;
    this.#ended.reset();
  }
}
