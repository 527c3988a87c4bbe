/**
 * What an auth service answered, as forward auth reads it: its fields, and its refusal as the
 * client gets it (forward-auth.ts decides which answer is which).
 */
import { Failure } from '../../core/failure/failure.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { appendSfMember } from '../../core/failure/structured-field.ts';
import { isStorageField } from '../../core/http1/storage-fields.ts';
import { joinedField } from '../../core/net/downstream.ts';
import { type AnswerEdit, OwnAnswer, StreamedAnswer } from '../../core/net/own-answer.ts';
import { keptOwn } from '../decide/error-response.ts';

/** The service's answer: its head as the gateway's head builder passed it on, its body (bounded: session/auth-call.ts). */
export interface ServiceAnswer {
  readonly status: number;
  /** Flat [name, value, …]: the service's fields, hop-by-hop ones out, Via and X-Request-Id in (response-headers.ts). */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

/** A field value the service may hand on: printable ASCII, bounded (it becomes a request field upstream, or a gateway-made challenge). */
export const FIELD_VALUE = /^[\x20-\x7e]{1,4096}$/;

/**
 * The auth service's own refusal (its 401, its 403, its redirect to a login page), passed to the
 * client as it wrote it, body included; `refusal` is what the request's record keeps of it, and
 * what a gRPC client is answered (a gateway-made Trailers-Only UNAUTHENTICATED or PERMISSION_DENIED).
 */
export class PassedOnAnswer extends OwnAnswer {
  readonly refusal: Failure;

  constructor(status: number, headers: readonly string[], body: Buffer, refusal: Failure) {
    super(status, headers, body);
    this.refusal = refusal;
  }
}

/**
 * The fields the gateway answers `answer` with: a refusal passed on gets this gateway's
 * Proxy-Status member (its http_request_denied, without details under `errors.detail: minimal`)
 * after the service's own when that is a List (else in its place), as every access refusal
 * carries one: a client tells the gateway's refusal from the upstream's own 401.
 */
export function ownFields(
  answer: OwnAnswer,
  gateway: { readonly name: string; readonly config: { readonly errors: { readonly detail: string } } },
): readonly string[] {
  if (!(answer instanceof PassedOnAnswer)) return answer.headers;
  const member = failureProxyStatus(
    gateway.name,
    answer.refusal,
    undefined,
    gateway.config.errors.detail === 'minimal',
  );
  const out: string[] = [];
  let theirs: string | undefined;
  for (let i = 0; i < answer.headers.length; i += 2)
    if (answer.headers[i].toLowerCase() === 'proxy-status')
      theirs = theirs === undefined ? answer.headers[i + 1] : `${theirs}, ${answer.headers[i + 1]}`;
    else out.push(answer.headers[i], answer.headers[i + 1]);
  out.push('proxy-status', appendSfMember(theirs, member));
  return out;
}

/** Redirects the service may send the client to its login page with. */
export const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Fields of the service's answer the session writes itself when it passes the answer on (a whole body has no trailers). */
const REWRITTEN = new Set(['content-length', 'x-request-id', 'trailer']);

/**
 * The service's refusal as the client gets it: its fields but those the session writes itself,
 * `Cache-Control: no-store` in place of the service's caching fields (storage-fields.ts: a
 * refusal is the decision on one client's credentials, which no cache in front keys on; kept
 * there, the service's `max-age`, `public`, or a 301 or 308 heuristically cacheable without any,
 * one user's 401 or login redirect would be every user's, a logged-in one's too), as every answer
 * the gateway makes for itself has, and a 401 without a challenge given the bare `Bearer` one
 * (RFC 9110 §11.6.1: a 401 has one).
 */
export function passedOn(answer: ServiceAnswer): PassedOnAnswer {
  const { status, body } = answer;
  const headers: string[] = [];
  for (let i = 0; i < answer.headers.length; i += 2) {
    const lower = answer.headers[i].toLowerCase();
    if (!REWRITTEN.has(lower) && !isStorageField(lower))
      headers.push(answer.headers[i], answer.headers[i + 1]);
  }
  headers.push('cache-control', 'no-store');
  const challenge = joinedField(headers, 'www-authenticate');
  if (status === 401 && challenge === undefined) headers.push('www-authenticate', 'Bearer');
  // A redirect to a login page says "who are you", as a 401 does: what a gRPC client is told,
  // with the service's challenge when it is one the gateway may write in its own answer.
  const refusal =
    status === 403
      ? new Failure('http_request_denied', 'the auth service does not allow this request', {
          status,
          final: true,
        })
      : status === 429
        ? throttled(joinedField(headers, 'retry-after'))
        : new Failure(
            'http_request_denied',
            status === 401
              ? 'the auth service did not accept the credentials'
              : 'the auth service sent the client to log in',
            {
              status: 401,
              final: true,
              challenge: challenge !== undefined && FIELD_VALUE.test(challenge) ? challenge : 'Bearer',
            },
          );
  return new PassedOnAnswer(status, headers, body, refusal);
}

/** The longest Retry-After of a service's 429 a gRPC client is told (the HTTP answer carries the service's own). */
const MAX_THROTTLE_S = 3600;

/**
 * The service's 429 as the gateway's refusal (what the log and a gRPC client read: RESOURCE_EXHAUSTED,
 * as a rate limit's): the client may come back, after the service's Retry-After when it gave seconds.
 */
function throttled(retryAfter: string | undefined): Failure {
  const seconds =
    retryAfter !== undefined && /^\s*\d{1,10}\s*$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return new Failure('http_request_denied', 'the auth service refused this request for now', {
    status: 429,
    ...(seconds === undefined ? {} : { retryAfter: Math.min(MAX_THROTTLE_S, seconds) }),
  });
}

/**
 * The head of an answer the gateway makes itself: its fields (ownFields), its length (RFC 9110
 * §8.6: none on a 204), the request id, `Connection: close` when the client's body is left unread,
 * then the route's stages' edit; a refusal passed on keeps its own fields whatever a rule says.
 */
export function ownAnswerHead(
  answer: OwnAnswer,
  gateway: Parameters<typeof ownFields>[1],
  requestId: string,
  close: boolean,
  edit: AnswerEdit | undefined,
): string[] {
  // A 304 tells no length (the sink frames it as bodiless): its 200's would be its file's.
  const size = answer instanceof StreamedAnswer ? answer.length : answer.body.length;
  const length = answer.status === 204 || answer.status === 304 ? [] : ['content-length', String(size)];
  const headers = [...ownFields(answer, gateway), ...length, 'x-request-id', requestId];
  if (close) headers.push('connection', 'close');
  if (edit === undefined) return headers;
  return answer instanceof PassedOnAnswer ? keptOwn(edit(headers), headers) : edit(headers);
}
