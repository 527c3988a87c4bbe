import { isIP, type Socket } from 'node:net';
import { classifyFetchError } from '../../core/failure/classify-fetch.ts';
import { Failure } from '../../core/failure/failure.ts';
import { readProxyStatusMembers } from '../../core/failure/proxy-status.ts';
import { type FetchWatcher, watchingFetch } from '../../core/net/fetch-watch.ts';

/**
 * One call to an auth hop: how far the name lookup of a socket it opened got (unknown: it opened
 * none, it waits for one another call opens), and whether its request was written (undici's
 * `sendHeaders`), as fetch-watch.ts tells them. A time limit that ran out before the request was
 * written ran out connecting (the name lookup, the TCP connect, the TLS handshake), not waiting
 * for an answer: "no answer" would send whoever reads it to a slow service instead of an
 * unreachable one. A socket that never emitted `lookup` ran out in the name lookup (dns_timeout),
 * not in the TCP connect.
 */
class HopCall implements FetchWatcher {
  lookup: 'unknown' | 'pending' | 'done';
  written = false;

  constructor(lookup: 'unknown' | 'done') {
    this.lookup = lookup;
  }

  socketOpened(socket: Socket): void {
    if (this.lookup === 'done') return;
    this.lookup = 'pending';
    socket.once('lookup', () => {
      this.lookup = 'done';
    });
  }

  headWritten(): void {
    this.written = true;
  }
}

/**
 * A call to an auth hop (a JWKS endpoint; a forward-auth service goes through its upstream
 * instead, session/auth-call.ts), its failures classified as
 * an upstream's are (refused, reset, timed out: 502, 504 by the shape) and named as the auth
 * hop's in Proxy-Status (`next-hop="auth:NAME"`): never the route's upstream, never a 401.
 */
export async function callAuthHop(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  // An address needs no lookup (the socket emits no `lookup` for one).
  const address = isIP(new URL(url).hostname.replace(/^\[|\]$/g, '')) !== 0;
  const call = new HopCall(address ? 'done' : 'unknown');
  const started = performance.now();
  try {
    return await watchingFetch(call, () =>
      fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' }),
    );
  } catch (err) {
    if (!timedOut(err)) throw classifyFetchError(err, performance.now() - started);
    const within = `within ${timeoutMs / 1000} s`;
    if (call.written) throw new Failure('http_response_timeout', `no answer ${within}`, { stage: 'sent' });
    if (call.lookup === 'pending')
      throw new Failure('dns_timeout', `the name lookup did not finish ${within}`);
    throw new Failure(
      'connection_timeout',
      call.lookup === 'done'
        ? `no connection ${within} (the TCP connect or the TLS handshake did not finish)`
        : `no connection ${within} (the name lookup, the TCP connect or the TLS handshake did not finish)`,
    );
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
  return withHop(failure, hop, `${what}: ${failure.details}`);
}

/**
 * The auth hop's failure as clients are shown it: naming `hop` (access.ts's shown names: a hop
 * known by its URL is its address only where the config exposes addresses), the rest unchanged.
 */
export function shownAs(failure: Failure, hop: string): Failure {
  return failure.nextHop === hop ? failure : withHop(failure, hop, failure.details);
}

/** `failure` again with `hop` as its next hop and these details, every other fact of it kept. */
function withHop(failure: Failure, hop: string, details: string): Failure {
  return new Failure(failure.type, details, {
    status: failure.status,
    stage: failure.stage,
    params: failure.params,
    // A circuit open or a pool full says when to come back.
    ...(failure.retryAfter === undefined ? {} : { retryAfter: failure.retryAfter }),
    nextHop: hop,
    cause: failure.cause,
    ...(failure.variant === undefined ? {} : { variant: failure.variant }),
  });
}

/** The longest wait an auth hop's own Retry-After is passed on with: past it, an hour. */
const MAX_RETRY_AFTER_S = 3600;

/**
 * An auth hop that answered 5xx (or, for a JWKS endpoint, 429: it throttles the gateway): unavailable, a 503 whose Retry-After is the hop's own delay
 * when it gave one in seconds (bounded), else 1 s (it is asked again at the next request).
 * Every destination_unavailable carries one (taxonomy.ts).
 */
export function hopUnavailable(status: number, retryAfter: string | null | undefined): Failure {
  const seconds = retryAfter != null && /^[\t ]*\d{1,10}[\t ]*$/.test(retryAfter) ? Number(retryAfter) : 1;
  return new Failure('destination_unavailable', `it answered ${status}`, {
    retryAfter: Math.min(MAX_RETRY_AFTER_S, Math.max(1, seconds)),
  });
}

/**
 * An auth hop that answered that the request loops: a member of its Proxy-Status (RFC 9209)
 * names `proxy_loop_detected` (another Candor, or any proxy, on the way to the service found
 * its own name in Via). Told as the loop it is, 502 proxy_loop_detected without Retry-After: it
 * will not clear by retrying, as the hop's 503 would invite. Undefined for any other answer.
 */
export function hopLooping(status: number, proxyStatus: string | undefined): Failure | undefined {
  const looped = readProxyStatusMembers(proxyStatus).find((member) => member.error === 'proxy_loop_detected');
  if (looped === undefined) return undefined;
  return new Failure(
    'proxy_loop_detected',
    `it answered ${status}, and ${JSON.stringify(looped.proxy)} says the request loops (Proxy-Status proxy_loop_detected): a proxy on the way to the service found its own name in Via`,
  );
}
