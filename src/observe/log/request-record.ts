// Not the global `performance`, an accessor node defines lazily: every read of it in optimized
// code was a call into V8's global load IC (LoadGlobalIC, 0.24 % of the contract floor's samples).
import { performance } from 'node:perf_hooks';
import type { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import type { TraceContext } from '../../core/ids/traceparent.ts';
import type { RetrySkip } from '../../core/retry/reasons.ts';

/**
 * The log's status for a request the client got no status line for, and that it did not leave
 * (it would be 499): the gateway closed the connection without an answer (a drain's deadline).
 * As Envoy logs a response never sent; 0 is no status any HTTP peer can send.
 */
export const NO_ANSWER = 0;

/** One attempt against one target, for the log line. */
export interface TryLine {
  readonly target: string;
  /** The upstream's status, when a head came back. */
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly stage: Stage | undefined;
  readonly ms: number;
}

/** One attempt of a call the gateway made for the request on its own account, for the log line's `hop_tries`. */
export interface HopTryLine extends TryLine {
  /** The hop, as the call's span (`candor.hop`) and the line's `auth_hop` name it: `auth:NAME`, `plugin:NAME`. */
  readonly hop: string;
}

/** Where a call made for a request tells its attempts when it retried: the request's record, its list made at the first. */
export interface HopTriesHolder {
  hopTries: HopTryLine[] | undefined;
}

/**
 * Everything the log line says about one request, filled in as the phases run. It is the
 * only per-request state the log phase reads, so every field has exactly one writing module
 * (test/proxy/session/one-writer.test.ts holds it to that): the session writes status, failure,
 * client_aborted, upgraded, the route and bytes_in; admit the upstream, upstream path, auth and user
 * (the admission a rate limit its store left unchecked);
 * the attempt loop (attempts.ts) the target, tries, retry_skipped, panic, hash_home, and once at
 * the end the stage, the connection's reuse, held_ms and backoff_ms; the exchange what the wire showed
 * (bytes out, connect and first-byte times, resets, dropped interim answers); the tunnel after a
 * 101 what the client sent through it and who closed it.
 */
export class RequestRecord {
  readonly id: string;
  /** The X-Request-Id an untrusted client sent, not adopted as `id` (logged as client_req_id). */
  clientRequestId: string | undefined = undefined;
  /**
   * A request the gateway made itself, not a client (a stored answer's refresh): what it is
   * (`refresh`), logged as `background`, with no `client`: `clientAddress` is the address of the
   * client it was made from, which judges it as that one (access rules, a hash key), but never sent it.
   */
  background: string | undefined = undefined;
  /** With `background`: the id of the client's request it was made from (`for_req_id`). */
  backgroundFor: string | undefined = undefined;
  /**
   * The request's trace context, as the client's traceparent made it; the server span's start
   * (spans.ts) turns its sampled flag off where the tracer's sampler did not record a trace that
   * started here, so that every hop told of it (the upstream, an auth service) is told the same.
   */
  trace: TraceContext;
  /**
   * Monotonic start, for durations: when the record is made, or when the request began arriving
   * if that was before (a head refused after it was slow to come). (The line's time is when it is
   * written: access-log.ts.)
   */
  readonly startedAt: number;
  /**
   * Monotonic end, when the response's end came before the exchange closed: an HTTP/2 answer
   * whole while its client kept its request side open, closed only after a grace
   * (AnswerSink.wholeAt). Undefined: the response ends when the line is written.
   */
  endedAt: number | undefined;
  readonly clientAddress: string;
  readonly method: string;
  readonly host: string;
  /** The request target as the client sent it. */
  readonly path: string;
  /** The path (with its query) sent upstream, when it is not the target as sent: normalised, rewritten. */
  upstreamPath: string | undefined;
  /** The protocol the request came over (DownstreamHead.protocol): HTTP/1.0, HTTP/1.1, HTTP/2. */
  protocol: string | undefined;
  /** The request is gRPC over HTTP/2: a gateway-made failure is answered in gRPC's Trailers-Only form. */
  grpc = false;
  /** The gRPC status of the gateway's own Trailers-Only answer (absent when it made none). */
  gatewayGrpcStatus: number | undefined;
  /** The upstream's own `grpc-status`, from its trailers or its Trailers-Only head, passed through. */
  upstreamGrpcStatus: number | undefined;
  route: string | undefined;
  upstream: string | undefined;
  target: string | undefined;
  /** The status line the client got; NO_ANSWER until one is written, and when none ever was. */
  status = NO_ANSWER;
  failure: Failure | undefined;
  /** How far the exchange with the upstream got (absent when it never started). */
  stage: Stage | undefined;
  /**
   * The request's bytes read from the client, whatever its answer (DownstreamExchange's
   * bytesRead), and what it sent through the tunnel after a 101: written once, by the session,
   * when the request is over.
   */
  bytesIn = 0;
  /** What the client sent through the tunnel after a 101 (the exchange's count; bytesIn adds it). */
  tunnelBytesIn = 0;
  /** Response body bytes received from the upstream (through the tunnel, for upgrades). */
  bytesOut = 0;
  /**
   * Milliseconds the request waited in a full pool's queue for one of its busy connections (every
   * attempt's wait added); absent: it never queued. Told apart from `ttfb_ms`, so a pool too small
   * is not read as a slow upstream.
   */
  queuedMs: number | undefined;
  connectMs: number | undefined;
  /** The upstream connection was a pooled one, reused. */
  reusedConnection: boolean | undefined;
  ttfbMs: number | undefined;
  upstreamReset = false;
  /** The content coding the gateway applied to the response (routes[].compression), and the body's bytes before and after. */
  encoding: string | undefined;
  bytesBeforeEncoding = 0;
  bytesAfterEncoding = 0;
  clientAborted = false;
  upgraded = false;
  /**
   * Who closed an upgraded connection's tunnel: a side (its FIN, its reset or error), its
   * silence past `timeouts.tunnel_idle` (past `tunnel_half_closed` after a side's FIN is that
   * side's close), the drain's deadline, or a reload that revoked its client's certificate
   * (client_certificates); absent until it closes.
   */
  tunnelClosedBy: 'client' | 'upstream' | 'idle_timeout' | 'drain' | 'client_certificates' | undefined;
  /** The gateway answered an ACME validation itself (`http-01`): no route, no upstream. */
  acme: string | undefined;
  /** Interim (1xx) answers not relayed: over the per-exchange cap, or the client was not reading. */
  interimDropped = 0;
  /**
   * Every attempt made upstream, in order (retries included). The first is written as a list of
   * one (attempts.ts): pushed into an empty list, it took room for 17.
   */
  tries: TryLine[] = [];
  /**
   * Every attempt of each call the gateway made for this request on its own account (its
   * forward-auth service, a plugin's `context.fetch`) that was retried, in the order the calls
   * ended: written by the call (session/auth-call.ts), which pushes onto this list, never
   * replaces it (made then: most requests call no hop). Its attempts are counted in the metrics and are spans of the request's trace;
   * without them the line said nothing of a service that refused and was asked again.
   */
  hopTries: HopTryLine[] | undefined = undefined;
  /** The target was picked while its upstream was in panic (health checks ignored). */
  panic = false;
  /** The hash balancer's own target for the request's key, when the last attempt went elsewhere. */
  hashHome: string | undefined;
  /** What the route's cache did (hit, stale, uri-miss…); absent on a route without one. */
  cache: string | undefined;
  /**
   * A route stage's answer went out in the upstream's place or a failure's (a StageAnswer: a
   * stored answer): the gateway made it, whatever an attempt received (the 304 it confirmed).
   */
  stageAnswered = false;
  /** A stored answer stood in for a failed upstream: the failure's type, or upstream_503 for the upstream's own. */
  staleCause: string | undefined;
  /**
   * What the route's access rules (IP lists, CORS, authentication) made of the request:
   * `allowed`, `denied: <why>` or `failed: <type>`; absent on a route without any.
   */
  auth: string | undefined;
  /** Who made the answer when a plugin did (`plugin:NAME`); absent for the upstream's and the gateway's own. */
  answeredBy: string | undefined;
  /** The auth hop whose failure answered the request (`auth:HOST:PORT`, `auth:NAME`): its address even where clients are shown a name. */
  authHop: string | undefined;
  /**
   * The upstream a plugin's `context.fetch` asked, whose failure (its `next-hop`) the plugin let
   * out as the request's: the hop that failed, where the route's upstream may never have been asked.
   */
  pluginHop: string | undefined;
  /** Who the route's authentication admitted (Basic's user, a JWT's claim, the auth service's field); absent: nobody. */
  user: string | undefined;
  /** Why the last failed attempt was not retried (absent when it was, or none failed). */
  retrySkipped: RetrySkip | undefined;
  /** Milliseconds the request waited for a target to come back (upstream `hold`); absent: it never waited. */
  heldMs: number | undefined;
  /** Milliseconds its retries waited out their backoffs, all added; absent: no retry was decided. */
  backoffMs: number | undefined;
  /** Response bytes that reached the client through a spool file (`limits.spool`); absent: none did. */
  spooled: number | undefined;
  /**
   * The route's rate limit was not checked: its store did not decide and `on_error: allow` let the
   * request through; why, in the store's words (redisWhy). Absent whenever a limit was checked.
   */
  rateLimitUnchecked: string | undefined;

  constructor(
    id: string,
    trace: TraceContext,
    clientAddress: string,
    method: string,
    host: string,
    path: string,
    startedAt = performance.now(),
  ) {
    this.startedAt = startedAt;
    this.id = id;
    this.trace = trace;
    this.clientAddress = clientAddress;
    this.method = method;
    this.host = host;
    this.path = path;
  }

  elapsed(): number {
    return (this.endedAt ?? performance.now()) - this.startedAt;
  }
}

/** The `client` the log line names: none for a request the gateway made itself (`background`), which no client sent. */
export function loggedClient(record: RequestRecord): string | undefined {
  return record.background === undefined ? record.clientAddress : undefined;
}

/**
 * The upstream the log line names: the request's, but for one a plugin's hop failed before any
 * attempt (`pluginHop` names that hop): the route's upstream was never asked, and a line naming
 * it with the hop's failure would blame it.
 */
export function loggedUpstream(record: RequestRecord): string | undefined {
  return record.pluginHop !== undefined && record.tries.length === 0 ? undefined : record.upstream;
}

/**
 * The gRPC status the client read: the gateway's, when it answered or cut the response (a status
 * the upstream gave in trailers the client never got is not what it read), else the upstream's
 * own, passed through.
 */
export function grpcStatusRead(record: RequestRecord): number | undefined {
  return record.gatewayGrpcStatus ?? record.upstreamGrpcStatus;
}
