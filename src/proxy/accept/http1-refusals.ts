/**
 * How a listener answers an HTTP/1.1 request it refuses before there is an exchange: the
 * parser said no or the head did not come in time (refuse), or a plain request came to a TLS
 * listener (refusePlain). The handlers write the answer and its log line.
 */
import type { Socket } from 'node:net';
import { drainCutFailure, Failure } from '../../core/failure/failure.ts';
import type { RequestHead, RequestParseError } from '../../core/http1/parsed-request.ts';
import { clientAddressOf, clientBytesRead } from '../../core/net/client-address.ts';
import { type RawRequestInfo, rawRequestInfo, refusalFailure, requestInfo } from './client-error.ts';
import type { Http1Connection } from './http1/http1-connection.ts';
import type { EndedFor, UnservedRequest, UnservedWhy } from './http1/http1-connection-setup.ts';
import { UNSERVED_LINES } from './http1/unserved-requests.ts';
import type { Refusal, RequestHandlers } from './request-handlers.ts';

/** A refused request: the answer and its log line (the handlers'), then the connection closes. */
export function refuse(
  handlers: RequestHandlers,
  connection: Http1Connection,
  error: RequestParseError,
  head: RequestHead | undefined,
): void {
  const { socket } = connection;
  const refusal: Refusal = {
    remoteAddress: clientAddressOf(socket),
    encrypted: 'encrypted' in socket,
    bytesRead: connection.requestBytes,
    startedAt: connection.headFrom,
    answer: (text) => connection.refuse(text),
  };
  if (head === undefined && isTlsHandshake(connection.refusedHead))
    return handlers.refused(refusal, TLS_ON_PLAIN(), UNREAD);
  const info = head === undefined ? rawRequestInfo(connection.refusedHead) : requestInfo(head);
  handlers.refused(refusal, refusalFailure(error), info);
}

/**
 * A request pipelined behind one whose connection was cut, read whole and never served: logged
 * with why (unserved-requests.ts). Nothing of it reached an upstream, and no answer can go back.
 */
export function unserved(
  handlers: RequestHandlers,
  connection: Http1Connection,
  { head, bytes, untold }: UnservedRequest,
  why: UnservedWhy,
): void {
  const { socket } = connection;
  const failure = unservedFailure(why);
  handlers.unserved(
    { remoteAddress: clientAddressOf(socket), encrypted: 'encrypted' in socket, bytesRead: bytes },
    untold === undefined
      ? failure
      : new Failure(
          failure.type,
          `${failure.details}; ${untold} more read behind it, not served, have no line of their own (${UNSERVED_LINES} a connection)`,
        ),
    requestInfo(head),
  );
}

/**
 * Why the gateway closed a kept-alive connection once its answer was given (EndedFor), said
 * before what befell each request read behind that answer.
 */
const ENDED_FOR: Readonly<Record<EndedFor, string>> = {
  drain: 'the gateway was shutting down: it closed the connection',
  listener_removed: 'a reload removed the listener: the gateway closed the connection',
  client_certificates:
    "a reload changed the listener's client_certificates: the gateway closed the connection, judged under the old ones,",
  http10: "the gateway keeps no HTTP/1.0 client's connection open (RFC 9112 §9.3.1): it closed it",
  answered_early:
    "the answer began before the request's body was whole, so it said close: the gateway closed the connection",
};

function unservedFailure(why: UnservedWhy): Failure {
  if (why === 'deadline' || why === 'signal' || why === 'listener_deadline') return drainCutFailure(why);
  if (why !== 'client_left' && why !== 'answer_cut')
    return new Failure(
      'proxy_internal_response',
      `${ENDED_FOR[why]} after answering the request pipelined before this one, and this one was never sent`,
    );
  if (why === 'client_left')
    return new Failure(
      'client_closed',
      'the client closed the connection while the request pipelined before this one was answered',
    );
  return new Failure(
    'proxy_internal_response',
    'the answer to the request pipelined before this one was cut short, and the gateway closed the connection: this one was never sent',
  );
}

/**
 * A TLS record where a request line should be: an `https://` client at a plain listener. Its
 * refusal names that, as the other way round is named (refusePlain), not the parser's view of
 * the bytes ("bare LF line ending"). The 400 that goes back is what makes the client's TLS
 * library say "wrong version number", the usual clue.
 */
function isTlsHandshake(bytes: string): boolean {
  return bytes.charCodeAt(0) === 0x16 && bytes.charCodeAt(1) === 0x03;
}

const TLS_ON_PLAIN = (): Failure =>
  new Failure(
    'http_request_error',
    'a TLS handshake sent to a plain HTTP listener: send it with http://, or to a listener with tls',
    { status: 400 },
  );

/** What the request said of itself is gone into OpenSSL: its answer and log line name none of it. */
const UNREAD: RawRequestInfo = {
  method: '',
  path: '',
  host: undefined,
  accept: undefined,
  requestId: undefined,
  protocol: undefined,
  traceparent: undefined,
  tracestate: undefined,
  userAgent: undefined,
};

/**
 * A plain HTTP request sent to a TLS listener (`http://` for `https://`): answered 400 in plain
 * text on its TCP socket, as nginx answers it, and logged as any refused request, not closed
 * on unanswered (an empty reply tells the client nothing). No lingering close can follow it:
 * Node destroyed the TLS socket before it told of the failed handshake, and the TCP socket under
 * it writes the answer before their handle closes. A request that came whole in the first read
 * (about 64 KiB) reads its answer; the rest of a longer body, unread at the close, resets the
 * connection, and a client that reads only once it has sent everything reads the reset.
 */
export function refusePlain(handlers: RequestHandlers, tcp: Socket, done: () => void): void {
  const refusal: Refusal = {
    remoteAddress: clientAddressOf(tcp),
    encrypted: false,
    // What the client sent, as a parsed request counts it: a PROXY header before it is not its.
    bytesRead: clientBytesRead(tcp),
    answer: (text) => {
      tcp.once('error', done);
      tcp.end(text, done);
    },
  };
  const failure = new Failure(
    'http_request_error',
    'a plain HTTP request sent to a TLS (HTTPS) listener: send it with https://',
    { status: 400 },
  );
  handlers.refused(refusal, failure, UNREAD);
}
