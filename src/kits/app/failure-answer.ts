/**
 * The answer an app gives its own caller when a call it made with `candor/client` ended with no
 * response (an UpstreamError): what the gateway would answer for the same failure, from the same
 * failure table. A third party that refused, answered garbage or broke the connection is a 502,
 * one that kept the app past its deadline a 504, one whose circuit is open a 503 with
 * Retry-After; never the 500 of an uncaught exception, which says the app itself is broken. With
 * `Proxy-Status` naming the app, the type and the third party (`next-hop`), `Cache-Control:
 * no-store`, the request id, and a body negotiated as the gateway's (problem+json, HTML, text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderErrorBody } from '../../core/failure/error-body.ts';
import { Failure } from '../../core/failure/failure.ts';
import { negotiateErrorFormat } from '../../core/failure/negotiate.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { newRequestId } from '../../core/ids/ids.ts';
import type { UpstreamError } from '../client/upstream-error.ts';
import { propagationFromRequest } from './propagation-from-request.ts';

export interface FailureAnswerOptions {
  /** The app's name: the member of its Proxy-Status (RFC 9209 §2), as a gateway's `name`. */
  readonly name: string;
  /** The third party as the caller may see it (`next-hop`); default: the host of the URL called. */
  readonly nextHop?: string;
  /** The details and the next hop left out of Proxy-Status and the body, as `errors.detail: minimal`. */
  readonly minimal?: boolean;
}

export interface FailureAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Headers that describe the representation the app meant to send (RFC 9110 §8: its coding,
 * language, location, range and validators; the file name it is saved under; its digests, RFC
 * 9530), set before the call failed. The failure answer is another representation: kept, they
 * would label it (a problem+json body "gzip", to be saved as "rates.csv", with the ETag and
 * digest of a file never sent), or frame it twice (a Transfer-Encoding beside its Content-Length).
 * What is not about it (CORS, cookies, security headers) stays.
 */
const REPRESENTATION_HEADERS = [
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-location',
  'content-range',
  'content-digest',
  'repr-digest',
  'digest',
  'content-md5',
  'etag',
  'last-modified',
  'transfer-encoding',
  'trailer',
];

/** Takes off what the app set for the representation it meant to send: the answer going out instead is another. */
export function dropRepresentationHeaders(res: ServerResponse): void {
  for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
}

/** The failure record an UpstreamError stands for, read from the failure table. */
function failureOf(error: UpstreamError): Failure {
  // The client's own verdict, when it made one (the last attempt's, or the body's that stalled or broke).
  if (
    (error.code === 'UPSTREAM_UNREACHABLE' ||
      error.code === 'UPSTREAM_BODY_TIMEOUT' ||
      error.code === 'UPSTREAM_BODY_INCOMPLETE') &&
    error.cause instanceof Failure
  )
    return error.cause;
  const attempts = `${error.attempts.length} attempt${error.attempts.length === 1 ? '' : 's'}`;
  if (error.code === 'UPSTREAM_CIRCUIT_OPEN') {
    const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 1_000) / 1_000));
    return new Failure('destination_unavailable', `circuit open after ${attempts}`, { retryAfter: seconds });
  }
  const last = error.attempts.at(-1);
  // Ended at once, nothing sent: the third party asked for a pause that ends past the deadline.
  // It said it is unavailable until then, and the caller is told when, not that time ran out.
  if (error.code === 'UPSTREAM_DEADLINE' && error.retryAfterMs !== undefined) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1_000));
    return new Failure('destination_unavailable', `it asked for a pause (Retry-After) of ${seconds} s`, {
      retryAfter: seconds,
    });
  }
  if (error.code === 'UPSTREAM_DEADLINE') {
    // Cut waiting for an answer, or the deadline came in a wait after an earlier failure.
    const cut = last?.reason === 'deadline' && last.status === undefined && last.detail !== undefined;
    const details = cut
      ? `${last.detail} (${attempts})`
      : `the deadline passed with no response (${attempts}${last?.type ? `, the last one ${last.type}` : ''})`;
    return new Failure('http_response_timeout', details, { stage: 'sent' });
  }
  // Its type without the record (an UpstreamError of another copy of the kit: candor-kit's client
  // beside candor's app, whose Failure class is not this one): the record made again from the table.
  const type = error.type;
  if (type !== undefined && Object.hasOwn(FAILURES, type))
    return new Failure(type, `${last?.detail ?? FAILURES[type].explanation} (${attempts})`, {
      stage: FAILURES[type].furthestStage,
    });
  // No classified cause (never so from createFetch): a connection lost, the most the kit can say.
  return new Failure('connection_terminated', `${last?.detail ?? 'no response'} (${attempts})`, {
    stage: 'sent',
  });
}

/** The status, headers and body for an UpstreamError, negotiated by the caller's `accept`. */
export function failureAnswer(
  error: UpstreamError,
  request: { readonly accept?: string; readonly requestId?: string },
  options: FailureAnswerOptions,
): FailureAnswer {
  const failure = failureOf(error);
  const minimal = options.minimal === true;
  const nextHop = options.nextHop ?? URL.parse(error.url)?.host;
  const requestId = request.requestId ?? newRequestId();
  const body = renderErrorBody(negotiateErrorFormat(request.accept), {
    failure,
    proxyName: options.name,
    requestId,
    nextHop,
    minimal,
  });
  const headers = errorAnswerHeaders(body, requestId);
  headers['proxy-status'] = failureProxyStatus(options.name, failure, nextHop, minimal);
  if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
  return { status: failure.status, headers, body: body.body };
}

/**
 * The fields of an answer the kit makes itself (a failure's, the app's own bug's: failed-request.ts):
 * its negotiated body's type and length, never stored, the request id to quote, and the gateway's
 * own page's policy where the body is a page (error-body.ts: it may quote another party's words).
 */
export function errorAnswerHeaders(
  body: { readonly contentType: string; readonly body: string; readonly policy?: string },
  requestId: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': body.contentType,
    'content-length': String(Buffer.byteLength(body.body)),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    vary: 'Accept',
    'x-content-type-options': 'nosniff',
  };
  if (body.policy !== undefined) headers['content-security-policy'] = body.policy;
  return headers;
}

/**
 * Answers `req` with the failure of a call made while serving it. Its request id is the one the
 * request came with (the gateway's), else a new one. Headers the app set for the representation
 * it meant to send (Content-Disposition, Content-Encoding, ETag…) are left out. Once the response's head has left, its
 * status cannot change: the response is cut, never finished as if whole.
 *
 * @example
 * try {
 *   const rate = await api('https://rates.example.com/eur');
 *   res.end(await rate.text());
 * } catch (error) {
 *   if (!(error instanceof UpstreamError)) throw error;
 *   answerFailure(req, res, error, { name: 'shop' }); // 502 connection_refused, 504 http_response_timeout…
 * }
 */
export function answerFailure(
  req: IncomingMessage,
  res: ServerResponse,
  error: UpstreamError,
  options: FailureAnswerOptions,
): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const accept = typeof req.headers.accept === 'string' ? req.headers.accept : undefined;
  const answer = failureAnswer(error, { accept, requestId: propagationFromRequest(req).requestId }, options);
  dropRepresentationHeaders(res);
  res.writeHead(answer.status, answer.headers);
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}
