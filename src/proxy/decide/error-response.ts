import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorBody, renderErrorBody } from '../../core/failure/error-body.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { negotiateErrorFormat } from '../../core/failure/negotiate.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { REASONS } from '../../core/failure/wording.ts';
import { lingerOnClose } from '../../core/net/linger.ts';
import { endAtTurnEnd } from '../../core/net/turn-end.ts';

/** Methods Candor forwards; TRACE and CONNECT are answered 405 (RFC 9110 §15.5.6 requires Allow). */
export const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export interface ErrorResponseFacts {
  readonly proxyName: string;
  readonly requestId: string;
  readonly accept: string | undefined;
  /** The upstream as clients may see it (name, or address when exposed); absent before routing. */
  readonly nextHop: string | undefined;
  readonly head: boolean;
  /** Close the client connection after answering (an unread request body, a broken stream). */
  readonly close: boolean;
}

export interface ErrorResponse {
  readonly status: number;
  readonly headers: string[];
  readonly body: ErrorBody;
}

/** The decide phase's answer for a failure: status, headers and negotiated body. */
function buildErrorResponse(failure: Failure, facts: ErrorResponseFacts): ErrorResponse {
  const body = renderErrorBody(negotiateErrorFormat(facts.accept), {
    failure,
    proxyName: facts.proxyName,
    requestId: facts.requestId,
    nextHop: facts.nextHop,
  });
  const headers = [
    'content-type',
    body.contentType,
    'content-length',
    String(Buffer.byteLength(body.body)),
    'cache-control',
    'no-store',
    'proxy-status',
    failureProxyStatus(facts.proxyName, failure, facts.nextHop),
    'x-request-id',
    facts.requestId,
    'vary',
    'Accept',
  ];
  if (failure.retryAfter !== undefined) headers.push('retry-after', String(failure.retryAfter));
  if (failure.status === 405) headers.push('allow', ALLOW);
  if (facts.close) headers.push('connection', 'close');
  return { status: failure.status, headers, body };
}

/** Writes an error answer through Node's response object (the request was parsed). */
export function writeErrorResponse(
  req: IncomingMessage,
  res: ServerResponse,
  failure: Failure,
  facts: ErrorResponseFacts,
): void {
  const answer = buildErrorResponse(failure, facts);
  if (facts.close) res.shouldKeepAlive = false;
  res.writeHead(answer.status, REASONS[answer.status], answer.headers);
  // Sent with the turn's other responses (turn-end.ts): a failure costs no wake-up of its own.
  endAtTurnEnd(res, facts.head ? undefined : answer.body.body);
  // A body the client is still sending is not worth reading: the connection closes instead,
  // lingering (linger.ts) so that the client reads this answer before the close. The body's
  // bytes are dropped as they come. res.socket, captured now: failRequestBody detaches
  // req.socket when it gives up on a request body.
  const socket = res.socket;
  if (facts.close && !req.complete && socket !== null) {
    req.resume();
    lingerOnClose(socket);
    res.once('finish', () => socket.destroySoon());
  }
}

/** Writes an error answer straight to a socket (Node's parser rejected the request: there is no response object). */
export function writeRawErrorResponse(socket: Socket, failure: Failure, facts: ErrorResponseFacts): void {
  const answer = buildErrorResponse(failure, { ...facts, close: true });
  let head = `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? ''}\r\ndate: ${new Date().toUTCString()}\r\n`;
  for (let i = 0; i < answer.headers.length; i += 2)
    head += `${answer.headers[i]}: ${answer.headers[i + 1]}\r\n`;
  socket.end(head + '\r\n' + (facts.head ? '' : answer.body.body));
}
