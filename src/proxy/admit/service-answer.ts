/**
 * What an auth service answered, as forward auth reads it: its fields, and its refusal as the
 * client gets it (forward-auth.ts decides which answer is which).
 */
import { Failure } from '../../core/failure/failure.ts';
import { isStorageField } from '../../core/http1/storage-fields.ts';
import { joinedField } from '../../core/net/downstream.ts';
import { PassedOnAnswer } from '../decide/own-answer-head.ts';
import type { ServiceAnswer } from '../stages/service-call.ts';

/** A field value the service may hand on: printable ASCII, bounded (it becomes a request field upstream, or a gateway-made challenge). */
export const FIELD_VALUE = /^[\x20-\x7e]{1,4096}$/;

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
export function passedOnAnswer(answer: ServiceAnswer): PassedOnAnswer {
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
