import type { Socket } from 'node:net';
import { writeRawErrorResponse } from '../decide/error-response.ts';
import { Failure } from '../failure/failure.ts';
import { unmapIPv4 } from '../forward/trust.ts';
import { logRequest } from '../log/access-log.ts';
import type { Logger } from '../log/logger.ts';
import { RequestRecord } from '../log/request-record.ts';
import { acceptOrCreateRequestId } from '../trace/ids.ts';
import { continueOrStartTrace } from '../trace/traceparent.ts';

interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

/**
 * Node's parser refused the request before there was a request object: answer on the
 * socket with the status the RFCs give for what went wrong, and log it like any request.
 */
export function classifyClientError(err: ParserError, uriLimit: number): Failure {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const raw = err.rawPacket?.toString('latin1') ?? '';
      const firstLine = raw.indexOf('\r\n');
      const requestLine = /^[A-Z]+ /.test(raw) && (firstLine === -1 || firstLine > uriLimit);
      return requestLine
        ? new Failure('http_request_error', 'request target too long', { status: 414 })
        : new Failure('http_request_error', 'request header section too large', { status: 431 });
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return new Failure('http_request_error', 'the request was not received in time', { status: 408 });
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new Failure(
        'http_request_error',
        'both Content-Length and Transfer-Encoding: the framing is ambiguous',
        {
          status: 400,
        },
      );
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new Failure('http_request_error', 'invalid chunked framing', { status: 400 });
    case 'HPE_INVALID_CONTENT_LENGTH':
      return new Failure('http_request_error', 'invalid Content-Length', { status: 400 });
    default:
      return new Failure('http_request_error', `malformed request (${err.code ?? 'unparseable'})`, {
        status: 400,
      });
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

/** Answers on the bare socket and logs the request like any other. */
export function answerOnSocket(
  socket: Socket,
  failure: Failure,
  info: RawRequestInfo,
  proxyName: string,
  logger: Logger,
): void {
  const record = new RequestRecord(
    acceptOrCreateRequestId(info.requestId),
    continueOrStartTrace(undefined),
    unmapIPv4(socket.remoteAddress ?? ''),
    info.method,
    info.host ?? '',
    info.path.slice(0, 256),
  );
  record.failure = failure;
  record.status = failure.status;
  writeRawErrorResponse(socket, failure, {
    proxyName,
    requestId: record.id,
    accept: info.accept,
    nextHop: undefined,
    head: info.method === 'HEAD',
    close: true,
  });
  logRequest(logger, record);
}

export function handleClientError(
  err: ParserError,
  socket: Socket,
  proxyName: string,
  uriLimit: number,
  logger: Logger,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const requestLine = /^([A-Z]+) (\S+)/.exec(raw);
  const info: RawRequestInfo = {
    method: requestLine?.[1] ?? '',
    path: requestLine?.[2] ?? '',
    host: headerIn(raw, 'host'),
    accept: headerIn(raw, 'accept'),
    requestId: headerIn(raw, 'x-request-id'),
  };
  answerOnSocket(socket, classifyClientError(err, uriLimit), info, proxyName, logger);
}

/** A header's value from the raw bytes Node's parser gave up on, when they hold it. */
function headerIn(raw: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(raw);
  return m?.[1]?.slice(0, 256);
}
