import { classifyFetchError } from '../../core/failure/classify-fetch.ts';
import { Failure } from '../../core/failure/failure.ts';

/**
 * A call to an auth hop (a JWKS endpoint; a forward-auth service goes through its upstream
 * instead, session/auth-call.ts), its failures classified as
 * an upstream's are (refused, reset, timed out: 502, 504 by the shape) and named as the auth
 * hop's in Proxy-Status (`next-hop="auth:NAME"`): never the route's upstream, never a 401.
 */
export async function callAuthHop(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const started = performance.now();
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    throw timedOut(err)
      ? new Failure('http_response_timeout', `no answer within ${timeoutMs / 1000} s`, { stage: 'sent' })
      : classifyFetchError(err, performance.now() - started);
  }
}

export function timedOut(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'TimeoutError' || (err.cause as Error | undefined)?.name === 'TimeoutError')
  );
}

/** A failure of the auth hop `hop` ("auth:idp.example.com"), said as one in its details and next-hop. */
export function authHopFailure(failure: Failure, hop: string, what: string): Failure {
  return new Failure(failure.type, `${what}: ${failure.details}`, {
    status: failure.status,
    stage: failure.stage,
    params: failure.params,
    // A circuit open or a pool full says when to come back.
    ...(failure.retryAfter === undefined ? {} : { retryAfter: failure.retryAfter }),
    nextHop: hop,
    cause: failure.cause,
  });
}
