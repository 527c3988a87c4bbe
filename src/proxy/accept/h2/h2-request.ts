/**
 * An HTTP/2 stream's request as the session reads any request: the head with the method, a
 * target from `:path` (`:authority` for CONNECT), the fields flat with Host from
 * `:authority` (RFC 9113 §8.3.1), and the body as a Readable with backpressure on the
 * stream's flow-control window. nghttp2 has already refused what HTTP/2 forbids (upper-case
 * names, connection-specific fields, a missing pseudo-field, a body longer or shorter than
 * its content-length).
 */
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Readable } from 'node:stream';
import type { RequestParseError } from '../../../core/http1/request-parser.ts';
import { fieldBreak, methodBreak, type RuleBreak, targetBreak } from '../../../core/http1/request-rules.ts';
import { snippet, trimOws } from '../../../core/http1/syntax.ts';
import type { DownstreamHead } from '../../../core/net/downstream.ts';
import { expectsOnlyContinue } from '../request-checks.ts';

/**
 * The head of a request that came over HTTP/2: `protocol` names the wire; the version fields
 * say 1.1, the semantics the session applies to it (RFC 9113 §8: HTTP/2 carries HTTP/1.1's).
 */
export interface H2DownstreamHead extends DownstreamHead {
  readonly protocol: 'HTTP/2';
  readonly streamId: number;
  /** `:scheme` as the client sent it. */
  readonly scheme: string;
  /** The head's size as RFC 9113 §6.5.2 counts a header list: each field's name and value (pseudo-fields too) and 32. */
  readonly headerListSize: number;
}

/** What every stream of one connection shares: read once a connection, not once a stream. */
export interface H2ConnectionFacts {
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** The connection's SNI (lower-cased), when it is TLS and the client sent one. */
  readonly servername: string | undefined;
}

/**
 * The head from the stream's raw fields (flat [name, value, …], pseudo-fields first).
 * `endStream`: the HEADERS frame ended the stream (no body).
 */
export function h2RequestHead(
  raw: readonly string[],
  streamId: number,
  endStream: boolean,
  connection: H2ConnectionFacts,
): H2DownstreamHead {
  let method = '';
  let path = '';
  let scheme = '';
  let authority: string | undefined;
  let host: string | undefined;
  let contentLength: number | undefined;
  let expectContinue = false;
  let cookies: string[] | undefined;
  let headerListSize = 0;
  // Host goes first: its place is kept, and given up in the rare request with neither
  // :authority nor Host (one array a request, not a second one to put Host in front).
  const headers = ['host', ''];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    headerListSize += name.length + value.length + 32;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      else if (name === ':scheme') scheme = value;
      continue;
    }
    if (name === 'host') host ??= value;
    // §8.2.3: cookie may come split in several fields; HTTP/1.1 wants one, joined by "; ".
    else if (name === 'cookie') {
      if (cookies === undefined) cookies = [value];
      else cookies.push(value);
    } else {
      if (name === 'content-length') contentLength = Number(value);
      else if (name === 'expect' && expectsOnlyContinue(value)) expectContinue = true;
      headers.push(name, value);
    }
  }
  const hostValue = authority ?? host;
  if (hostValue === undefined) headers.splice(0, 2);
  else headers[1] = hostValue;
  if (cookies !== undefined) headers.push('cookie', cookies.length === 1 ? cookies[0] : cookies.join('; '));
  const head: { -readonly [K in keyof H2DownstreamHead]: H2DownstreamHead[K] } = {
    method,
    target: method === 'CONNECT' ? (authority ?? '') : path,
    versionMajor: 1,
    versionMinor: 1,
    protocol: 'HTTP/2',
    streamId,
    scheme,
    headerListSize,
    headers,
    remoteAddress: connection.remoteAddress,
    encrypted: connection.encrypted,
    bodyLength: endStream ? undefined : (contentLength ?? 'chunked'),
    upgrade: false,
    expectContinue,
  };
  // Absent, not undefined, on a connection without one (as the HTTP/1.1 head has it).
  if (connection.servername !== undefined) head.servername = connection.servername;
  return head;
}

/**
 * What the HTTP/1.1 parser would refuse and nghttp2 lets through, as the same errors, by the
 * same rules (core/http1/request-rules.ts): a header list past `max_header_list_size` or with
 * more than `max_header_fields` fields (431), a method that is not known (501), a `:scheme` other than http or https, a `:path` that is not
 * the origin form (or `*` for OPTIONS) or holds bytes a request line may not (400), a target
 * past the URI length (414), a field whose name is not a token or whose value holds a control
 * character or starts or ends with whitespace (400: RFC 9113 §8.2.1 makes the request
 * malformed; §8.1.1 lets a server answer it before closing the stream), or a Host that names
 * another authority than `:authority` (400, RFC 9113 §8.3.1). `:authority` itself becomes Host, which the accept checks hold to
 * the authority rule (request-checks.ts). A request with neither nghttp2 resets itself.
 *
 * What nghttp2 drops before node:http2 hands the fields over cannot be refused here: see
 * h2-limits.ts (a field name that is not a token, a value with CR, LF, NUL or another control).
 */
export function h2Refusal(
  raw: readonly string[],
  head: H2DownstreamHead,
  limits: {
    readonly uriLength: number;
    readonly maxHeaderListSize: number;
    readonly maxHeaderFields: number;
  },
): RequestParseError | undefined {
  // node:http2 holds a head to the SETTINGS_MAX_HEADER_LIST_SIZE it announced only once the
  // client has acknowledged them, and a client's first request goes before that: held here too.
  if (head.headerListSize > limits.maxHeaderListSize)
    return {
      status: 431,
      code: 'HPE_HEADER_OVERFLOW',
      details: `request header list of ${head.headerListSize} bytes is past the limit of ${limits.maxHeaderListSize} (limits.http2.max_header_list_size)`,
      inBody: false,
    };
  // node:http2 lets a few more through (h2-limits.ts) so that this one is answered, as the
  // HTTP/1.1 parser answers too many fields.
  if (raw.length / 2 > limits.maxHeaderFields)
    return {
      status: 431,
      code: 'HPE_HEADER_OVERFLOW',
      details: `more than ${limits.maxHeaderFields} header fields (limits.http2.max_header_fields)`,
      inBody: false,
    };
  const method = methodBreak(head.method);
  if (method !== undefined) return refusal(method);
  const target = head.target;
  if (target.length > limits.uriLength)
    return { status: 414, code: 'ERR_URI_TOO_LONG', details: 'request target too long', inBody: false };
  // CONNECT has neither :scheme nor :path (its target is :authority): the accept checks answer it 405.
  if (head.method !== 'CONNECT') {
    const scheme = head.scheme.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https')
      return refusal({
        status: 400,
        code: 'HPE_INVALID_URL',
        details: `malformed request (:scheme ${snippet(head.scheme)} is not http or https)`,
      });
    // RFC 9113 §8.3.1: for http(s), `:path` is the origin form, or `*` for OPTIONS; the absolute
    // form is HTTP/1.1's alone (nghttp2 lets it through with another :scheme, refused above).
    if (target.charCodeAt(0) !== 0x2f /* / */ && !(target === '*' && head.method === 'OPTIONS'))
      return refusal({
        status: 400,
        code: 'HPE_INVALID_URL',
        details: 'malformed request (:path must be a path, or * for OPTIONS)',
      });
    const broken = targetBreak(target);
    if (broken !== undefined) return refusal(broken);
  }
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    const field = fieldBreak(name, raw[i + 1]);
    if (field !== undefined) return refusal(field);
    if (name === 'host') host = raw[i + 1];
  }
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
    return { status: 400, code: 'ERR_HOST_MISMATCH', details: 'Host differs from :authority', inBody: false };
  return undefined;
}

const refusal = (broken: RuleBreak): RequestParseError => ({ ...broken, inBody: false });

/**
 * The request body: the stream's DATA, read only as fast as the session reads it (the
 * stream is paused, so its window closes on the client). A stream the client resets before
 * its end errors the body with ECONNRESET; one nghttp2 reset because its DATA ended short of
 * its `content-length` (malformed, RFC 9113 §8.1.1) errors it as a 400 of the client's;
 * trailers (a HEADERS frame after the data) are kept on `trailers`, flat, as the HTTP/1.1
 * body keeps its chunked trailers.
 */
export class H2Body extends Readable {
  readonly #stream: ServerHttp2Stream;
  trailers: readonly string[] | undefined;
  /** The client's END_STREAM came: the whole body is in (the session may not have read it yet). */
  complete = false;

  /** `limits.body_idle_timeout`: the longest the client may leave its body silent (0: no limit). */
  readonly #idleTimeout: number;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The reader has not asked for more (not yet, or its buffer is full): a silence now is not the client's. */
  #unread = true;
  /** The body's `content-length`, when the request announced one. */
  readonly #announced: number | undefined;
  /** DATA bytes received so far. */
  #received = 0;

  /** DATA bytes taken from the client so far (what came after the session gave up on the body is dropped uncounted). */
  get received(): number {
    return this.#received;
  }

  constructor(stream: ServerHttp2Stream, idleTimeout = 0, announced?: number) {
    super();
    this.#stream = stream;
    this.#idleTimeout = idleTimeout;
    this.#announced = announced;
    // A session that never reads the body must not see the client's reset thrown at the process.
    this.on('error', () => {});
    stream.pause();
    if (idleTimeout > 0) this.#idleTimer = setTimeout(this.#onIdle, idleTimeout).unref();
    stream.on('data', (chunk: Buffer) => {
      this.#received += chunk.length;
      this.#idleTimer?.refresh();
      if (!this.push(chunk)) {
        this.#unread = true;
        stream.pause();
      }
    });
    // A reset ends node:http2's readable side too: only a real END_STREAM ends the body.
    stream.once('end', () => {
      if (this.#reset()) return this.#cut();
      this.complete = true;
      clearTimeout(this.#idleTimer);
      this.push(null);
    });
    stream.once('aborted', () => this.#cut());
    stream.once('trailers', (fields: IncomingHttpHeaders) => {
      const flat: string[] = [];
      for (const [name, value] of Object.entries(fields)) {
        if (value === undefined || name.charCodeAt(0) === 58) continue;
        // Without SP and HTAB around it, as HTTP/1.1's parser hands a trailer over (node:http2
        // lets such whitespace through: h2-limits.ts).
        for (const one of Array.isArray(value) ? value : [value]) flat.push(name, trimOws(one));
      }
      this.trailers = flat;
    });
    stream.once('close', () => this.#cut());
  }

  #reset(): boolean {
    return this.#stream.aborted || (this.#stream.rstCode ?? 0) !== 0;
  }

  #cut(): void {
    if (this.readableEnded || this.destroyed) return;
    if (this.#endedShort()) {
      // No code: the message is the details of the 400 (classifyRequestBodyError). Nothing can
      // answer it: nghttp2 reset the stream.
      this.destroy(
        Object.assign(
          new Error(
            `its DATA ended after ${this.#received} bytes, short of its content-length of ${this.#announced}: malformed, the stream was reset PROTOCOL_ERROR (RFC 9113 §8.1.1)`,
          ),
          { status: 400 },
        ),
      );
      return;
    }
    const breach = protocolBreach(this.#stream, `after ${this.#received} bytes of its body`);
    if (breach !== undefined) {
      this.destroy(Object.assign(new Error(breach), { status: 400 }));
      return;
    }
    // nghttp2 resets a stream PROTOCOL_ERROR for a frame of it HTTP/2 forbids (a trailer section
    // with a pseudo-field or a connection-specific field, RFC 9113 §8.1) and no event says so:
    // the client's malformed request, as a bad chunked trailer is a 400 over HTTP/1.1, not its leaving.
    if (this.#stream.rstCode === constants.NGHTTP2_PROTOCOL_ERROR) {
      this.destroy(
        Object.assign(
          new Error(
            `its stream was reset PROTOCOL_ERROR after ${this.#received} bytes of its body: malformed (a trailer section with a pseudo-field or a connection-specific field, RFC 9113 §8.1), or the client's own reset with that code`,
          ),
          { status: 400 },
        ),
      );
      return;
    }
    this.destroy(
      Object.assign(new Error('the client reset the stream before the body ended'), { code: 'ECONNRESET' }),
    );
  }

  /**
   * nghttp2 reset the stream for a body shorter than its content-length (at its END_STREAM):
   * the client's malformed request, not its leaving. (A body longer than it makes node:http2
   * close the whole connection, logged as a protocol error of the connection.)
   */
  #endedShort(): boolean {
    return (
      this.#announced !== undefined &&
      this.#received < this.#announced &&
      this.#stream.rstCode === constants.NGHTTP2_PROTOCOL_ERROR
    );
  }

  override _read(): void {
    this.#unread = false;
    this.#stream.resume();
  }

  /**
   * The client's silence is the accept side's to judge, as on HTTP/1.1: the body errors with a
   * 408 that whoever reads it (the exchange, request buffering) classifies as the body's failure.
   */
  readonly #onIdle = (): void => {
    if (this.readableEnded || this.destroyed) return;
    // Not read because its reader (an upstream slow to take it, a request waiting for a
    // connection) is not taking it: not the client's silence.
    if (this.#unread || this.readableLength > 0) {
      this.#idleTimer?.refresh();
      return;
    }
    this.destroy(
      Object.assign(new Error(`request body stalled for ${this.#idleTimeout} ms`), {
        code: 'ERR_BODY_IDLE',
        status: 408,
      }),
    );
  };

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    // The session gave up on the body: what still comes is read and dropped, so the window
    // stays open and the stream can still carry its answer.
    this.#stream.removeAllListeners('data');
    if (!this.#stream.destroyed) this.#stream.resume();
    callback(error);
  }
}

/**
 * The client's own breach of HTTP/2 that ended its connection while this stream was open:
 * nghttp2 refused a frame and sent GOAWAY (DATA past its stream's `content-length` is one, RFC
 * 9113 §8.1.1; the stream's error is then the session's), the details of a 400 of the client's;
 * undefined when the stream ended otherwise (the client reset it, its connection went away:
 * that is its leaving, a 499).
 */
export function protocolBreach(stream: ServerHttp2Stream, when: string): string | undefined {
  const error = stream.errored as (Error & { code?: string }) | null;
  if (error?.code !== 'ERR_HTTP2_ERROR') return undefined;
  return `its connection broke HTTP/2 ${when} (nghttp2: ${error.message}; DATA past a stream's content-length is such a breach, RFC 9113 §8.1.1): the connection was closed`;
}
