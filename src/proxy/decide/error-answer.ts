import { type ErrorBody, type ErrorPages, renderErrorBody } from '../../core/failure/error-body.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { buildGrpcAnswer } from '../../core/failure/grpc-answer.ts';
import { negotiateErrorFormat } from '../../core/failure/negotiate.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { REASONS } from '../../core/failure/wording.ts';
import { serializeAnswerHead } from '../../core/http1/answer-head.ts';
import { isStorageField } from '../../core/http1/storage-fields.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';

/** Methods Candor forwards; TRACE and CONNECT are answered 405 (RFC 9110 §15.5.6 requires Allow). */
export const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export interface ErrorAnswerFacts {
  readonly proxyName: string;
  readonly requestId: string;
  readonly accept: string | undefined;
  /** The upstream as clients may see it (name, or address when exposed); absent before routing. */
  readonly nextHop: string | undefined;
  /** The route's response rules (every field but Proxy-Status and those keptOwn keeps is theirs to change); absent: none. */
  readonly editHeaders?: AnswerEdit;
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

/** Refusals after which the request's framing may not have been consumed: the connection cannot be trusted. */
const CLOSING_STATUSES = new Set([400, 408, 413, 414, 431, 501, 505]);

/**
 * The decide phase's form of the gateway's answer to a request it has an exchange for (the
 * session writes it: writeErrorAnswer). The next hop is named unless the failure is the
 * client's own; the connection closes after the answer when what the client sent after its
 * head cannot be trusted or is not worth reading.
 */
export function gatewayErrorFacts(
  failure: Failure,
  request: {
    readonly proxyName: string;
    readonly requestId: string;
    readonly accept: string | undefined;
    /** The next hop clients may see, when the failure names none of its own. */
    readonly nextHop: () => string | undefined;
    readonly editHeaders: ErrorAnswerFacts['editHeaders'];
    readonly head: boolean;
    readonly grpc: boolean;
    readonly errors: { readonly pages?: ErrorPages; readonly detail: string };
    /** The accept phase refused the request: whatever it sent after its head is in doubt. */
    readonly refusedAtAccept: boolean;
    /** The sink refused a head the upstream sent (defence in depth). */
    readonly headRefused: boolean;
    /** The client's request body was read whole. */
    readonly bodyComplete: boolean;
  },
): ErrorAnswerFacts {
  return {
    proxyName: request.proxyName,
    requestId: request.requestId,
    accept: request.accept,
    nextHop: failure.nextHop ?? (failure.kind.shape === 'client' ? undefined : request.nextHop()),
    editHeaders: request.editHeaders,
    head: request.head,
    // An unread body is not worth reading, and a refused request leaves the stream in doubt.
    close:
      request.refusedAtAccept ||
      request.headRefused ||
      !request.bodyComplete ||
      CLOSING_STATUSES.has(failure.status),
    // The same writer answers gRPC in its Trailers-Only form.
    grpc: request.grpc,
    pages: request.errors.pages,
    minimal: request.errors.detail === 'minimal',
  };
}

export interface ErrorAnswer {
  readonly status: number;
  readonly headers: string[];
  readonly body: ErrorBody;
}

/** The decide phase's answer for a failure: status, headers and negotiated body (none for gRPC). */
export function buildErrorAnswer(failure: Failure, facts: ErrorAnswerFacts): ErrorAnswer {
  if (facts.grpc === true) {
    // A gRPC client reads grpc-status, never the HTTP status or a body (grpc-answer.ts).
    const answer = buildGrpcAnswer(failure, facts);
    // The route's response rules reach it as any error answer of the route; its gRPC fields stay the gateway's.
    const edited = facts.editHeaders?.(answer.headers, true);
    return {
      status: answer.status,
      headers: edited === undefined ? answer.headers : keptOwn(edited, answer.headers, isGrpcOwnField),
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
    // The body carries the request's path and Host: no browser reads it as anything but its type.
    'x-content-type-options',
    'nosniff',
  ];
  if (body.policy !== undefined) headers.push('content-security-policy', body.policy);
  if (failure.retryAfter !== undefined) headers.push('retry-after', String(failure.retryAfter));
  if (failure.status === 405) headers.push('allow', failure.allow ?? ALLOW);
  if (failure.challenge !== undefined) headers.push('www-authenticate', failure.challenge);
  if (facts.close) headers.push('connection', 'close');
  const edited = facts.editHeaders?.(headers, true);
  if (edited === undefined) return { status: failure.status, headers, body };
  // The built-in page's policy is the gateway's too: a route's own (its site's, `script-src
  // 'unsafe-inline'`, or none) replaced it, and a missed escape in the page would run. An
  // operator's template has none, and takes the route's.
  const kept = keptOwn(edited, headers, body.policy === undefined ? isOwnField : isOwnPageField);
  return { status: failure.status, headers: withAcceptVaried(kept), body };
}

const isOwnPageField = (lower: string) => isOwnField(lower) || lower === 'content-security-policy';

/**
 * The error answer's fields with `Vary` naming Accept, which chose its body: a route's rule that
 * removed Vary, or set its own (`Vary: Cookie`, meant for the site's pages), left the answer
 * saying it varies by nothing, or by Cookie alone. The rule's own values stay beside it.
 */
function withAcceptVaried(headers: string[]): string[] {
  for (let i = 0; i < headers.length; i += 2)
    if (
      headers[i].toLowerCase() === 'vary' &&
      /(?:^|,)[ \t]*(?:accept|\*)[ \t]*(?:,|$)/i.test(headers[i + 1])
    )
      return headers;
  headers.push('vary', 'Accept');
  return headers;
}

/**
 * What an error answer's fields say of it, whoever would change them: its body's type (and that
 * it is to be read as that type only), its coding and disposition (a route's rules for its files,
 * `Content-Encoding: gzip` on precompressed ones, `Content-Disposition: attachment` on downloads,
 * made its page one a browser failed to decode or saved as the file), when to come back, that no
 * cache keeps it, and what RFC 9110 says it MUST carry (a 401's challenge, §15.5.2; a 405's
 * methods, §15.5.6).
 */
const isOwnField = (lower: string) =>
  lower === 'content-type' ||
  lower === 'content-encoding' ||
  lower === 'content-disposition' ||
  lower === 'retry-after' ||
  lower === 'www-authenticate' ||
  lower === 'allow' ||
  lower === 'x-content-type-options' ||
  isStorageField(lower);

/** A Trailers-Only answer's own fields: an error answer's, and gRPC's (its status, message, pushback). */
const isGrpcOwnField = (lower: string) => isOwnField(lower) || lower.startsWith('grpc-');

/**
 * The route's response rules applied (`edited`), but for the fields that say what the answer is,
 * which stay the gateway's (`own`), as Proxy-Status does: a rule's `Cache-Control: max-age=31536000`
 * for a route's assets made its 502 one that browsers and shared caches kept for a year. For the
 * gateway's errors, and an auth service's refusal passed on (one client's, which no cache keeps).
 * `isOwn`: which fields stay (a RefusalAnswer keeps only those of storage).
 */
export function keptOwn(
  edited: readonly string[],
  own: readonly string[],
  isOwn: (lower: string) => boolean = isOwnField,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < edited.length; i += 2)
    if (!isOwn(edited[i].toLowerCase())) out.push(edited[i], edited[i + 1]);
  // A service's refusal passed on has its fields as it spelled them (`Www-Authenticate`, Go's).
  for (let i = 0; i < own.length; i += 2) if (isOwn(own[i].toLowerCase())) out.push(own[i], own[i + 1]);
  return out;
}

/**
 * Writes an error answer through the exchange's response sink. With `facts.close` the
 * connection closes after it (lingering: the client reads the answer before the close, and
 * what it still sends of a body is dropped). False when it could not go and the response was
 * cut instead (over HTTP/2, RST_STREAM INTERNAL_ERROR).
 */
export function writeErrorAnswer(sink: AnswerSink, failure: Failure, facts: ErrorAnswerFacts): boolean {
  const answer = buildErrorAnswer(failure, facts);
  // Sent with the turn's other responses (turn-end.ts): a failure costs no wake-up of its own.
  sink.deferToTurnEnd();
  try {
    sink.sendHead(answer.status, REASONS[answer.status] ?? '', answer.headers, facts.close);
  } catch {
    // This answer's head is more than the client takes (an HTTP/2 client's header list size):
    // its details (a path no route claims, the head it could not pass on) are what grows it, so
    // it goes without them, as errors.detail: minimal's, the type and the request id kept (the
    // log keeps them). Not even that fitting, the response is cut, and the log names the failure.
    if (facts.minimal !== true) return writeErrorAnswer(sink, failure, { ...facts, minimal: true });
    sink.abort();
    return false;
  }
  // UTF-8, as Content-Length counted the body.
  if (!facts.head) sink.write(Buffer.from(answer.body.body));
  sink.end();
  return true;
}

/**
 * The answer to a request the server's parser refused (no exchange to answer through, no route,
 * no next hop), as the bytes of a whole response that closes the connection.
 */
export function refusalAnswer(
  failure: Failure,
  gateway: {
    readonly name: string;
    readonly config: { readonly errors: { readonly pages?: ErrorPages; readonly detail: string } };
  },
  requestId: string,
  request: { readonly method: string; readonly accept: string | undefined },
): string {
  const { errors } = gateway.config;
  return rawErrorAnswer(failure, {
    proxyName: gateway.name,
    requestId,
    accept: request.accept,
    nextHop: undefined,
    head: request.method === 'HEAD',
    close: true,
    pages: errors.pages,
    minimal: errors.detail === 'minimal',
  });
}

/**
 * An error answer as the bytes of a whole response (a refused request: there is no exchange
 * to answer through); the connection closes after it, so it says `Connection: close`.
 */
export function rawErrorAnswer(failure: Failure, facts: ErrorAnswerFacts): string {
  const answer = buildErrorAnswer(failure, { ...facts, close: true });
  const head = serializeAnswerHead(answer.status, REASONS[answer.status] ?? '', [
    'date',
    new Date().toUTCString(),
    ...answer.headers,
  ]);
  // UTF-8 when written, as Content-Length counted the body (the head is ASCII).
  return facts.head ? head : head + answer.body.body;
}
