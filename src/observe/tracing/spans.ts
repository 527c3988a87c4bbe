/**
 * The spans of one request, after the OpenTelemetry HTTP semantic conventions: one server
 * span from the request's arrival to its log line, and one client span per attempt upstream,
 * its child. Every function here takes what the session holds, `undefined` when tracing is
 * off, and then returns at once: the request path pays one comparison per hook, and the
 * SDK is not even loaded (provider.ts is imported only when the config asks for tracing).
 * Nor is the OpenTelemetry API: only its types are named here, its context functions come
 * with the provider (Tracing.api), and the conventions' names and the API's numbers are
 * written out in conventions.ts.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { TargetConfig } from '../../core/config/types.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { grpcCodeName } from '../../core/failure/grpc-codes.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { notSampled, randomFlag, type TraceContext } from '../../core/ids/traceparent.ts';
import { grpcStatusRead, type RequestRecord } from '../log/request-record.ts';
import {
  ATTR_CANDOR_BACKGROUND,
  ATTR_CANDOR_FOR_REQUEST_ID,
  ATTR_CANDOR_HOP,
  ATTR_CANDOR_REQUEST_ID,
  ATTR_CANDOR_ROUTE,
  ATTR_CANDOR_STAGE,
  ATTR_CANDOR_UPSTREAM,
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  GRPC_SERVER_ERRORS,
  KNOWN_METHODS,
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  STATUS_ERROR,
  TRACE_FLAGS_NONE,
  TRACE_FLAGS_SAMPLED,
} from './conventions.ts';

const CLIENT_CLOSED = FAILURES.client_closed.status;

/**
 * Every time given to the SDK is read from one monotonic clock, in epoch milliseconds with
 * their fraction: left to itself, the SDK starts each span at Date.now() (whole
 * milliseconds) and so places a child up to a millisecond outside its parent.
 */
const timeOrigin = performance.timeOrigin;
export const now = (): number => timeOrigin + performance.now();

/** A running tracer provider, as the request path sees it (provider.ts makes one). */
export interface Tracing {
  readonly tracer: Tracer;
  /** The API's root context and span functions, from the provider (this module loads no OpenTelemetry code). */
  readonly api: Pick<typeof OtelApi, 'ROOT_CONTEXT' | 'trace' | 'createTraceState'>;
  /**
   * The ids the next span started takes, set around the start of a server span only: that
   * span is the one Candor drew ids for (record.trace), and a trace that starts here must
   * be exported under the trace id the log line carries. The provider's id generator hands
   * these out instead of drawing new ones.
   */
  next: TraceContext | undefined;
  /** Exports what is queued, then stops. */
  shutdown(): Promise<void>;
}

/** Where an attempt's connection went: the exchange answers, reading its socket only when asked. */
interface PeerSource {
  peerAddress(): string | undefined;
  peerPort(): number | undefined;
  /** It ended still queued behind a full pool's busy connections: nothing of it went to the target. */
  readonly endedInQueue: boolean;
}

/**
 * One request's spans: its server span and the client span of the attempt still open. A call
 * the gateway makes for the request (call-spans.ts) has its own, under the same server span,
 * with `hop` naming it.
 */
export class RequestSpans {
  readonly tracing: Tracing;
  readonly server: Span;
  readonly context: Context;
  /** The method as the conventions name it (`_OTHER` for one they do not know), for the client spans. */
  readonly method: string;
  /** The hop a call of the gateway's own goes to (`auth:NAME`, `plugin:NAME`: Proxy-Status's words); undefined for the request's upstream. */
  readonly hop: string | undefined;
  /**
   * The client's Level 2 random flag (0 or FLAG_RANDOM): the SDK makes each span's flags anew,
   * the sampled bit alone, and the traceparent each span sends carries it on as the request's
   * own traceparent does with tracing off (traceparent.ts).
   */
  readonly random: number;
  /** The attempt in progress, or the one whose response is streaming down. */
  client: Span | undefined;
  attempts = 0;

  constructor(tracing: Tracing, server: Span, method: string, random: number, hop?: string) {
    this.tracing = tracing;
    this.server = server;
    this.context = tracing.api.trace.setSpan(tracing.api.ROOT_CONTEXT, server);
    this.method = method;
    this.random = random;
    this.hop = hop;
  }
}

/**
 * The `traceparent` a span of the request's sends (the upstream's or a call's parent): its ids,
 * its sampled bit, and the client's random flag. The flags' other bits stay zero (§3.2.2.5).
 */
export function traceparentOf(span: Span, spans: RequestSpans): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${((traceFlags & TRACE_FLAGS_SAMPLED) | spans.random).toString(16)}`;
}

/**
 * The request's server span, started now, from its record and what its head said (for a request
 * the server's parser refused, as far as the head came); `scheme` is how the client reached the listener.
 */
export function startServerSpan(
  tracing: Tracing | undefined,
  record: RequestRecord,
  req: {
    /** `1.0`, `1.1` or `2`; undefined when a refused request's line did not say (a 505, a line cut short). */
    readonly httpVersion: string | undefined;
    /** The client behind the trusted proxies, if they name one (the peer when there are none). */
    readonly client: string | undefined;
    readonly userAgent: string | undefined;
    readonly tracestate: string | undefined;
  },
  scheme: string,
): RequestSpans | undefined {
  if (tracing === undefined) return undefined;
  const known = KNOWN_METHODS.has(record.method);
  const method = known ? record.method : '_OTHER';
  const [host, port] = splitHostPort(record.host, scheme === 'https' ? 443 : 80);
  const attributes: Record<string, string | number> = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: scheme,
    [ATTR_URL_PATH]: pathOf(record.path),
    [ATTR_CANDOR_REQUEST_ID]: record.id,
  };
  // A request the gateway made itself (a stored answer's refresh) has no peer: it says what it is, and for whom.
  if (record.background === undefined) {
    // The client behind a load balancer, beside the balancer the connection came from.
    if (req.client !== undefined) attributes[ATTR_CLIENT_ADDRESS] = req.client;
    attributes[ATTR_NETWORK_PEER_ADDRESS] = record.clientAddress;
  } else {
    attributes[ATTR_CANDOR_BACKGROUND] = record.background;
    if (record.backgroundFor !== undefined) attributes[ATTR_CANDOR_FOR_REQUEST_ID] = record.backgroundFor;
  }
  if (!known) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = record.method;
  if (host !== '') {
    attributes[ATTR_SERVER_ADDRESS] = host;
    attributes[ATTR_SERVER_PORT] = port;
  }
  if (req.httpVersion !== undefined) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = req.httpVersion;
  if (req.userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = req.userAgent;
  const { trace: ids } = record;
  // The client's span is the parent; without one the trace starts here.
  const { ROOT_CONTEXT, trace, createTraceState } = tracing.api;
  // Its tracestate too, which every span under it carries (the API parses it: at most 32
  // members, malformed ones left out, the whole dropped past 512 characters).
  const state = req.tracestate === undefined ? undefined : firstMembers(req.tracestate);
  const parent =
    ids.parentId === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, {
          traceId: ids.traceId,
          spanId: ids.parentId,
          traceFlags: ids.sampled ? TRACE_FLAGS_SAMPLED : TRACE_FLAGS_NONE,
          isRemote: true,
          ...(state === undefined ? {} : { traceState: createTraceState(state) }),
        });
  tracing.next = ids;
  let server: Span;
  try {
    server = tracing.tracer.startSpan(
      known ? method : 'HTTP',
      { kind: SPAN_KIND_SERVER, attributes, startTime: timeOrigin + record.startedAt },
      parent,
    );
  } finally {
    tracing.next = undefined;
  }
  // The sampler follows a client's flag, but draws for a trace that starts here: what it drew
  // is what every hop is told (the auth service's call reads record.trace, not a client span).
  if (ids.sampled && (server.spanContext().traceFlags & TRACE_FLAGS_SAMPLED) === 0)
    record.trace = notSampled(ids);
  return new RequestSpans(tracing, server, method, randomFlag(record.trace));
}

/** W3C Trace Context §3.3.1.1: a tracestate holds at most 32 list members. */
const TRACESTATE_MEMBERS = 32;

/**
 * A tracestate cut to its first 32 list members (the empty ones a list may hold not counted),
 * before the API parses it. Given more, @opentelemetry/api 1.9's TraceState keeps the first 32
 * and writes them out last first (its parse stores the members in reverse, and its cut reverses
 * them again): the spans, and the calls told the span's tracestate (an OpenID provider's), had
 * the list reversed, where its order says which vendor wrote last (§3.3.1: the leftmost).
 */
function firstMembers(tracestate: string): string {
  const members = tracestate.split(',');
  if (members.length <= TRACESTATE_MEMBERS) return tracestate;
  const kept: string[] = [];
  for (const member of members) {
    if (member.trim() === '') continue;
    kept.push(member);
    if (kept.length === TRACESTATE_MEMBERS) break;
  }
  return kept.join(',');
}

/**
 * The request found its route: the server span is named for it (`GET /items/*`), its prefix
 * being the template every path under it shares. Named here, not at the first attempt, so
 * that what the route answers itself (a 429, a redirect, a stored answer, a file) is filed
 * under the same low-cardinality name as what it forwards.
 */
export function routeServerSpan(spans: RequestSpans | undefined, routePath: string): void {
  if (spans === undefined) return;
  const route = routePath === '/' ? '/*' : `${routePath}/*`;
  spans.server.setAttribute(ATTR_HTTP_ROUTE, route);
  // The conventions' `{method} {target}`, `HTTP` standing for a method they do not list.
  spans.server.updateName(`${spans.method === '_OTHER' ? 'HTTP' : spans.method} ${route}`);
}

/**
 * An attempt's client span, started now as a child of the server span. Returns the
 * `traceparent` the attempt sends upstream: this span is the upstream's parent.
 */
export function startClientSpan(
  spans: RequestSpans | undefined,
  upstream: string,
  target: TargetConfig,
  path: string,
): string | undefined {
  if (spans === undefined) return undefined;
  spans.client?.end(now());
  const attributes: Record<string, string | number> = {
    [ATTR_HTTP_REQUEST_METHOD]: spans.method,
    [ATTR_SERVER_ADDRESS]: target.hostname,
    [ATTR_SERVER_PORT]: target.port,
    [ATTR_URL_FULL]: `${target.origin}${pathOf(path)}`,
    [ATTR_CANDOR_UPSTREAM]: upstream,
  };
  if (spans.attempts > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = spans.attempts;
  if (spans.hop !== undefined) attributes[ATTR_CANDOR_HOP] = spans.hop;
  spans.attempts++;
  const client = spans.tracing.tracer.startSpan(
    spans.method === '_OTHER' ? 'HTTP' : spans.method,
    { kind: SPAN_KIND_CLIENT, attributes, startTime: now() },
    spans.context,
  );
  spans.client = client;
  return traceparentOf(client, spans);
}

/**
 * The attempt's outcome is known: a failure ends its span; a response head leaves it open
 * until the response is through (endServerSpan), since its body may still break.
 */
export function settleClientSpan(
  spans: RequestSpans | undefined,
  failure: Failure | undefined,
  status: number | undefined,
  peer: PeerSource,
): void {
  const client = spans?.client;
  if (spans === undefined || client === undefined) return;
  // Never out of a full pool's queue, it is no attempt (the log's `attempts`, the metrics): a
  // client span would name a target that never got the request. The span is let go unended, and
  // so never exported (a processor takes a span when it ends); its traceparent was never sent.
  // The server span says what happened (error.type connection_limit_reached, or client_closed).
  if (peer.endedInQueue) {
    spans.client = undefined;
    spans.attempts--;
    return;
  }
  // A refused connect has no socket to ask; its error names the address it tried.
  const cause = failure?.cause as { address?: unknown; port?: unknown } | undefined;
  const address = peer.peerAddress() ?? (typeof cause?.address === 'string' ? cause.address : undefined);
  const port = peer.peerPort() ?? (typeof cause?.port === 'number' ? cause.port : undefined);
  if (address !== undefined) client.setAttribute(ATTR_NETWORK_PEER_ADDRESS, address);
  if (port !== undefined) client.setAttribute(ATTR_NETWORK_PEER_PORT, port);
  // A failure after the target's answer (a plugin's onResponse) is the request's, not this
  // attempt's: the span says the answer it got, and ends with the attempt.
  const received = failure?.answeredFirst === true ? failure.receivedStatus : undefined;
  if (failure !== undefined) {
    if (received === undefined) failed(client, failure);
    else answered(client, received);
    client.end(now());
    spans.client = undefined;
    return;
  }
  if (status !== undefined) answered(client, status);
}

/** An attempt's span got an answer with this status. */
export function answered(client: Span, status: number): void {
  client.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  // For a client, 4xx and 5xx are errors (the conventions' span status rules).
  if (status >= 400) {
    client.setAttribute(ATTR_ERROR_TYPE, String(status));
    client.setStatus({ code: STATUS_ERROR });
  }
}

/** The request is over (its log line is being written): its spans end, with what the record says. */
export function endServerSpan(spans: RequestSpans | undefined, record: RequestRecord): void {
  if (spans === undefined) return;
  const { failure, status } = record;
  const client = spans.client;
  if (client !== undefined) {
    // The attempt whose head went downstream: a body that broke later is its failure too.
    if (failure !== undefined && record.stage === 'body_streaming') failed(client, failure);
    // A gRPC call's failure comes as an HTTP 200: its status is in the trailers, any but OK an error for a client.
    const grpc = record.upstreamGrpcStatus;
    if (grpc !== undefined) {
      client.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, grpc);
      if (grpc !== 0 && failure === undefined) grpcFailed(client, grpc);
    }
    client.end(now());
    spans.client = undefined;
  }
  const server = spans.server;
  if (record.route !== undefined) server.setAttribute(ATTR_CANDOR_ROUTE, record.route);
  // The upstream the route sent it to (the log line's `upstream`, Proxy-Status's next-hop): a
  // 503 of its open circuit, a 429 of the route, its maintenance make no attempt, hence no
  // client span, and the trace had no word of whose failure it was.
  if (record.upstream !== undefined) server.setAttribute(ATTR_CANDOR_UPSTREAM, record.upstream);
  // 499 (client_closed's) is the log's name for "the client left before an answer": nothing was sent.
  const answered = status > 0 && !(record.clientAborted && status === CLIENT_CLOSED);
  if (answered) server.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  const grpc = grpcStatusRead(record);
  if (grpc !== undefined) server.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, grpc);
  if (failure !== undefined) {
    // Every failure keeps its RFC 9209 token, a 4xx of Candor's too: error.type says who
    // produced the answer and why. The span's status follows the conventions: for a
    // server, a 4xx is the client's error, not the span's.
    server.setAttribute(ATTR_ERROR_TYPE, failure.type);
    server.setAttribute(ATTR_CANDOR_STAGE, failure.stage);
    // A gRPC client reads the gateway's Trailers-Only answer by its grpc-status: one of the
    // server's codes (no route's UNIMPLEMENTED, a bad request's INTERNAL) is an error as gRPC's
    // rules say, whatever 4xx the failure stands for.
    const grpcServerError = grpc !== undefined && GRPC_SERVER_ERRORS.has(grpc);
    if (!answered || status >= 500 || record.stage === 'body_streaming' || grpcServerError)
      server.setStatus({ code: STATUS_ERROR, message: failure.message });
  } else if (status >= 500) {
    server.setAttribute(ATTR_ERROR_TYPE, String(status));
    server.setStatus({ code: STATUS_ERROR });
  } else if (grpc !== undefined && GRPC_SERVER_ERRORS.has(grpc)) grpcFailed(server, grpc);
  server.end(now());
}

function grpcFailed(span: Span, code: number): void {
  span.setAttribute(ATTR_ERROR_TYPE, grpcCodeName(code));
  span.setStatus({ code: STATUS_ERROR });
}

export function failed(span: Span, failure: Failure): void {
  span.setAttribute(ATTR_ERROR_TYPE, failure.type);
  span.setAttribute(ATTR_CANDOR_STAGE, failure.stage);
  span.setStatus({ code: STATUS_ERROR, message: failure.message });
}

/** The path of a request target, without its query (query strings carry tokens; traces travel further than logs). */
function pathOf(target: string): string {
  let start = 0;
  // An absolute-form target ("http://host/p"): the path starts after the authority.
  if (/^https?:\/\//i.test(target)) {
    start = target.indexOf('/', target.indexOf('//') + 2);
    if (start === -1) return '/';
  }
  const query = target.indexOf('?', start);
  return target.slice(start, query === -1 ? undefined : query);
}

/** "host:port", "[v6]:port" or a bare host, as Host carries it; the port defaults to the scheme's. */
function splitHostPort(authority: string, defaultPort: number): [host: string, port: number] {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(authority);
  if (match === null) return [authority, defaultPort];
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  return [host.toLowerCase(), match[2] === undefined ? defaultPort : Number(match[2])];
}
