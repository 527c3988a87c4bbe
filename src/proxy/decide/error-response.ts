import { type ErrorBody, type ErrorPages, renderErrorBody } from '../../core/failure/error-body.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { buildGrpcAnswer } from '../../core/failure/grpc-answer.ts';
import { negotiateErrorFormat } from '../../core/failure/negotiate.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { REASONS } from '../../core/failure/wording.ts';
import { serializeResponseHead } from '../../core/http1/response-head.ts';
import type { ResponseSink } from '../../core/net/downstream.ts';

/** Methods Candor forwards; TRACE and CONNECT are answered 405 (RFC 9110 §15.5.6 requires Allow). */
export const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export interface ErrorResponseFacts {
  readonly proxyName: string;
  readonly requestId: string;
  readonly accept: string | undefined;
  /** The upstream as clients may see it (name, or address when exposed); absent before routing. */
  readonly nextHop: string | undefined;
  /** The route's response rules (every field but Proxy-Status is theirs to change); absent: none. */
  readonly editHeaders?: (headers: readonly string[]) => string[];
  readonly head: boolean;
  /** Close the client connection after answering (an unread request body, a broken stream). */
  readonly close: boolean;
  /**
   * The request is gRPC (isGrpcContentType) and came over HTTP/2, the only way a gRPC request
   * can come: the answer is gRPC's Trailers-Only form. Left unset by the HTTP/1.1 server.
   */
  readonly grpc?: boolean;
  /** errors.pages: the operator's HTML template and problem+json members (absent: the built-in body). */
  readonly pages?: ErrorPages;
  /** errors.detail: minimal — the details and the next hop stay out of the body and Proxy-Status. */
  readonly minimal?: boolean;
}

export interface ErrorResponse {
  readonly status: number;
  readonly headers: string[];
  readonly body: ErrorBody;
}

/** The decide phase's answer for a failure: status, headers and negotiated body (none for gRPC). */
export function buildErrorResponse(failure: Failure, facts: ErrorResponseFacts): ErrorResponse {
  if (facts.grpc === true) {
    // A gRPC client reads grpc-status, never the HTTP status or a body (grpc-answer.ts).
    const answer = buildGrpcAnswer(failure, facts);
    return {
      status: answer.status,
      headers: answer.headers,
      body: { contentType: 'application/grpc', body: '' },
    };
  }
  const minimal = facts.minimal === true;
  // Only the body is the operator's: every header below is the gateway's, whatever the template.
  const body = renderErrorBody(
    negotiateErrorFormat(facts.accept),
    { failure, proxyName: facts.proxyName, requestId: facts.requestId, nextHop: facts.nextHop, minimal },
    facts.pages,
  );
  const headers = [
    'content-type',
    body.contentType,
    'content-length',
    String(Buffer.byteLength(body.body)),
    'cache-control',
    'no-store',
    'proxy-status',
    failureProxyStatus(facts.proxyName, failure, facts.nextHop, minimal),
    'x-request-id',
    facts.requestId,
    'vary',
    'Accept',
  ];
  if (failure.retryAfter !== undefined) headers.push('retry-after', String(failure.retryAfter));
  if (failure.status === 405) headers.push('allow', ALLOW);
  if (failure.challenge !== undefined) headers.push('www-authenticate', failure.challenge);
  if (facts.close) headers.push('connection', 'close');
  return { status: failure.status, headers: facts.editHeaders?.(headers) ?? headers, body };
}

/**
 * Writes an error answer through the exchange's response sink. With `facts.close` the
 * connection closes after it (lingering: the client reads the answer before the close, and
 * what it still sends of a body is dropped).
 */
export function writeErrorResponse(
  response: ResponseSink,
  failure: Failure,
  facts: ErrorResponseFacts,
): void {
  const answer = buildErrorResponse(failure, facts);
  // Sent with the turn's other responses (turn-end.ts): a failure costs no wake-up of its own.
  response.holdUntilTurnEnd();
  response.sendHead(answer.status, REASONS[answer.status] ?? '', answer.headers, facts.close);
  // UTF-8, as Content-Length counted the body.
  if (!facts.head) response.write(Buffer.from(answer.body.body));
  response.end();
}

/**
 * An error answer as the bytes of a whole response (a refused request: there is no exchange
 * to answer through); the connection closes after it, so it says `Connection: close`.
 */
export function rawErrorResponse(failure: Failure, facts: ErrorResponseFacts): string {
  const answer = buildErrorResponse(failure, { ...facts, close: true });
  const head = serializeResponseHead(answer.status, REASONS[answer.status] ?? '', [
    'date',
    new Date().toUTCString(),
    ...answer.headers,
  ]);
  // UTF-8 when written, as Content-Length counted the body (the head is ASCII).
  return facts.head ? head : head + answer.body.body;
}
