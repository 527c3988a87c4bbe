import type { Socket } from 'node:net';
import type { DownstreamLimits } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { failRequestBody, markInDoubt, type ParseErrorOwner } from './in-flight.ts';
import { headOf } from './node-exchange.ts';
import { checkRequest } from './request-checks.ts';

interface ParserError extends Error {
  code?: string;
  /** llhttp's own words, e.g. "Duplicate Content-Length". */
  reason?: string;
  rawPacket?: Buffer;
  /** Where in rawPacket the parser stopped. */
  bytesParsed?: number;
}

const bad = (status: number, details: string) => new Failure('http_request_error', details, { status });

/**
 * Node's parser refused the request before there was a request object: answer on the
 * socket with the status the RFCs give for what went wrong, and log it like any request.
 */
function classifyClientError(err: ParserError, uriLimit: number): Failure {
  const raw = failingRequestBytes(err);
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // Node only hands over the last read: this tells a request line that never ended
      // apart from a large header section when the head came in one read (the usual case).
      const firstLine = raw.indexOf('\r\n');
      const requestLine = /^[A-Z]+ /.test(raw) && (firstLine === -1 || firstLine > uriLimit);
      return requestLine ? bad(414, 'request target too long') : bad(431, 'request header section too large');
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return bad(408, 'the request was not received in time');
    case 'HPE_INVALID_VERSION':
      // A well-formed version llhttp does not speak (HTTP/1.7, HTTP/3.0) is 505, not garbage.
      return /^[A-Z]+ \S+ HTTP\/\d\.\d\r\n/.test(raw)
        ? bad(505, 'this HTTP version is not supported on this listener')
        : bad(400, 'malformed request (HPE_INVALID_VERSION: invalid HTTP version)');
    case 'HPE_PAUSED_H2_UPGRADE':
      // The HTTP/2 connection preface ("PRI * HTTP/2.0"): prior knowledge this listener does not have.
      return bad(505, 'HTTP/2 is not supported on this listener');
  }
  if (err.code === 'HPE_INVALID_METHOD') {
    // RFC 9110 §9.1: a well-formed method the server does not know is 501; anything else is garbage.
    const method = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) /.exec(raw)?.[1];
    if (method !== undefined) return bad(501, `method ${method} is not implemented`);
  }
  // llhttp reports Content-Length with Transfer-Encoding under either name, by header order.
  if (err.reason?.includes("can't be present with")) {
    return bad(400, 'both Content-Length and Transfer-Encoding: the framing is ambiguous');
  }
  switch (err.code) {
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return bad(400, 'more than one Content-Length header');
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return bad(400, 'invalid Transfer-Encoding: the body length cannot be known');
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return bad(400, 'invalid chunked framing');
    case 'HPE_INVALID_CONTENT_LENGTH':
      return bad(400, 'invalid Content-Length');
    default:
      return bad(
        400,
        `malformed request (${err.code ?? 'unparseable'}${err.reason ? `: ${err.reason}` : ''})`,
      );
  }
}

/** Facts about a request that never became a request object. */
export interface RawRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly accept: string | undefined;
  readonly requestId: string | undefined;
}

interface ClientErrorContext {
  readonly limits: DownstreamLimits;
  /** Answers on the socket and logs, like any request (the request session's job). */
  readonly refused: (socket: Socket, failure: Failure, info: RawRequestInfo) => void;
}

/**
 * Answers a parser error (Node's 'clientError'), by whoever owns the socket's exchange:
 * once, with one log line, and never interleaved with another response on that socket.
 */
export function handleClientError(
  err: ParserError,
  socket: Socket,
  claim: () => ParseErrorOwner,
  ctx: ClientErrorContext,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable || neverSpoke(err, socket)) {
    socket.destroy();
    return;
  }
  const owner = claim();
  switch (owner.kind) {
    case 'body':
      return failRequestBody(owner.req, err);
    case 'after':
      owner.res.once('close', () => handleClientError(err, socket, () => ({ kind: 'socket' }), ctx));
      return;
    case 'unstarted': {
      // Behind a response still going out: answered after it, never in the middle of it.
      if (owner.after !== undefined) {
        const { req } = owner;
        owner.after.once('close', () =>
          handleClientError(err, socket, () => ({ kind: 'unstarted', req }), ctx),
        );
        return;
      }
      // The head parsed: what it says is more precise than the parser's code (Transfer-Encoding: gzip).
      const { req } = owner;
      const requestId = req.headers['x-request-id'];
      const failure =
        checkRequest(headOf(req, false, false), req.headers, ctx.limits) ??
        classifyClientError(err, ctx.limits.uriLength);
      // Answered and closed: a request Node parses after this on the socket is not run.
      markInDoubt(socket);
      const info: RawRequestInfo = {
        method: req.method ?? '',
        path: req.url ?? '',
        host: req.headers.host,
        accept: req.headers.accept,
        requestId: typeof requestId === 'string' ? requestId : undefined,
      };
      return ctx.refused(socket, failure, info);
    }
  }
  const raw = failingRequestBytes(err);
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) (\S+)/.exec(raw);
  const info: RawRequestInfo = {
    method: requestLine?.[1] ?? '',
    path: requestLine?.[2] ?? '',
    host: headerIn(raw, 'host'),
    accept: headerIn(raw, 'accept'),
    requestId: headerIn(raw, 'x-request-id'),
  };
  markInDoubt(socket);
  ctx.refused(socket, classifyClientError(err, ctx.limits.uriLength), info);
}

/**
 * A connection that timed out without sending a byte (a browser's preconnect, a port scan)
 * made no request: it is closed without an answer or an access-log line, as nginx does.
 */
function neverSpoke(err: ParserError, socket: Socket): boolean {
  return (
    (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') &&
    socket.bytesRead === 0
  );
}

/**
 * The bytes of the request the parser gave up on: rawPacket is the whole last read, which
 * may begin with an earlier, pipelined request (its head ends before the error position).
 */
function failingRequestBytes(err: ParserError): string {
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const headEnd = raw.lastIndexOf('\r\n\r\n', (err.bytesParsed ?? raw.length) - 4);
  return headEnd === -1 ? raw : raw.slice(headEnd + 4);
}

/** A header's value from the raw bytes Node's parser gave up on, when they hold it. */
function headerIn(raw: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(raw);
  return m?.[1]?.slice(0, 256);
}
