/**
 * The failure taxonomy: every way a request can fail, defined once.
 *
 * Status line, Proxy-Status, error body, access log, metrics and retry decisions all read
 * this table; nothing else in Candor writes 502, 503 or 504. Keys are RFC 9209 Proxy-Status
 * error types, but for the client's own doings (client_closed, client_deadline: RFC 9209 has no
 * type for them), whose `proxyStatus` names the registered type written in their place;
 * statuses follow RFC 9209's recommendation (see DESIGN.md for the two deliberate departures).
 */
import { GRPC_CODES, type GrpcCode } from './grpc-codes.ts';
import { UPSTREAM_FAILURES } from './upstream-failures.ts';

/** The four shapes of an upstream failure, plus who else can be at fault. */
export type Shape =
  | 'unreachable' // no connection could be made
  | 'slow' // connected, request sent, no answer in time
  | 'reset' // the connection died before the response was whole
  | 'garbage' // an answer came, but not valid HTTP
  | 'gateway' // the gateway's own decision (no target, limits, maintenance, routing)
  | 'client' // the downstream request itself was bad
  | 'internal'; // a bug inside the gateway

/**
 * The four shapes of an upstream failure: the ones that say something about the target, not
 * about the client or the gateway's own choices. Outlier detection and the circuit count them;
 * retries.on accepts the types of these shapes.
 */
export const TARGET_FAULT_SHAPES: ReadonlySet<Shape> = new Set<Shape>([
  'unreachable',
  'slow',
  'reset',
  'garbage',
]);

/** How far a request got before it failed: the retry rule follows from this. */
export type Stage =
  | 'not_sent' // nothing reached the upstream (refused, DNS, connect timeout, decided locally)
  | 'sent' // the request (or part of it) was written; no response head yet
  | 'head_received' // the response head arrived; nothing sent downstream yet
  | 'body_streaming'; // the response head went downstream: the status can no longer change

/** The upstream's response head had come when it failed: a target answered (no retry; a hold's wait is over). */
export function headCame(stage: Stage | undefined): boolean {
  return stage === 'head_received' || stage === 'body_streaming';
}

export interface FailureKind {
  /** HTTP status Candor answers with (for `client` kinds, the usual one; the record may carry a finer 4xx). */
  readonly status: number;
  readonly shape: Shape;
  /**
   * The gRPC status (grpc/doc/statuscodes.md) a gRPC client gets for this failure, in a
   * Trailers-Only answer (grpc-answer.ts): what its retry policy and its code branch on.
   */
  readonly grpc: GrpcCode;
  /** Short code for log lines and dashboards: Envoy's letters only where the meaning is Envoy's, else Candor's own. */
  readonly flag: string;
  /** Whether the answer carries Retry-After. */
  readonly retryAfter: boolean;
  /** Title for error bodies. */
  readonly title: string;
  /** What happened, in one plain sentence about "the upstream". */
  readonly explanation: string;
  /** The fix that fits this shape, for the people running the upstream and the gateway. */
  readonly fix: string;
  /** Whether the client may usefully try again (with backoff). */
  readonly clientMayRetry: boolean;
  /**
   * How far a request that failed this way can have got, at the furthest: what a client that
   * knows only the type (from Proxy-Status) must assume before resending it. Unreachable
   * shapes and the gateway's own decisions never reach the upstream; a slow or reset upstream
   * had the request; garbage is an answer, so the request got there; a gateway bug could
   * strike at any point. The gateway's own records carry the stage each failure did reach.
   */
  readonly furthestStage: Stage;
  /**
   * The RFC 9209 type Proxy-Status carries for a type of Candor's own (absent: the key is one):
   * the registered type it is a case of. null: none fits, and the member carries no `error`
   * (a 421: nothing failed, the request came on the wrong connection).
   */
  readonly proxyStatus?: string | null;
  /**
   * The flag of a refusal of this kind that no retry turns around (Failure's `final`: an access
   * rule's 401 or 403), when the kind's own flag names the refusal that passes (RL: rate
   * limited, as Envoy's RL means).
   */
  readonly finalFlag?: string;
}

export const FAILURES = {
  ...UPSTREAM_FAILURES,
  destination_unavailable: {
    status: 503,
    grpc: GRPC_CODES.UNAVAILABLE,
    shape: 'gateway',
    flag: 'UH',
    retryAfter: true,
    // One title for each case (RFC 9457 §3.1.3), an OIDC session store's too (variants.ts).
    title: 'Upstream unavailable',
    // An auth hop's 5xx is one too (proxy/admit/auth-hop.ts): its answer is not passed on.
    explanation:
      'every target of the upstream is out of rotation (unhealthy or circuit open), or it answered that it is unavailable',
    fix: 'Bring a target back: where a circuit is open (the details say so, naming the last failure), find why the upstream failed; else check why each target is out of rotation (its health check failures, its ejection).',
    clientMayRetry: true,
    furthestStage: 'not_sent',
  },
  connection_limit_reached: {
    status: 503,
    grpc: GRPC_CODES.UNAVAILABLE,
    shape: 'gateway',
    flag: 'UO',
    retryAfter: true,
    title: 'Upstream is at its connection limit',
    explanation: "the upstream's connection pool and request queue are full",
    fix: 'Add targets or capacity, or raise pool.max_connections if the upstream can take more.',
    clientMayRetry: true,
    furthestStage: 'not_sent',
  },
  proxy_resources_exhausted: {
    // The gateway's own machine could not open a socket to the target: no file descriptor left
    // (EMFILE, ENFILE), no local port (a connect's EADDRNOTAVAIL on Linux: the ephemeral range is
    // used up), no socket memory (ENOBUFS, ENOMEM). The target was never asked, so it judges
    // none. It passes as descriptors and ports are freed: a 503 with Retry-After, as the pool's
    // own limit answers, not a 500's "a bug"; RFC 9209's type for an intermediary out of
    // connections it may make is the one Proxy-Status carries (a key of its own: that row's
    // explanation is the pool's).
    status: 503,
    grpc: GRPC_CODES.UNAVAILABLE,
    shape: 'gateway',
    flag: 'EXH',
    retryAfter: true,
    // One title for each case (RFC 9457 §3.1.3), a static file's open too (variants.ts).
    title: 'Gateway out of resources',
    explanation:
      'the gateway could not open a connection to the upstream: it ran out of its own file descriptors, local ports or socket memory',
    fix: "Raise the gateway's open-file limit (ulimit -n, systemd's LimitNOFILE), widen net.ipv4.ip_local_port_range or keep more connections alive for reuse; the upstream was not at fault.",
    clientMayRetry: true,
    furthestStage: 'not_sent',
    proxyStatus: 'connection_limit_reached',
  },
  proxy_internal_response: {
    status: 503,
    // Load shed and maintenance are transient and not this client's quota (that is
    // RESOURCE_EXHAUSTED): UNAVAILABLE, which gRPC clients retry with backoff.
    grpc: GRPC_CODES.UNAVAILABLE,
    shape: 'gateway',
    flag: 'PIR',
    retryAfter: true,
    title: 'Service temporarily unavailable',
    // Not only maintenance and load shedding: a shutdown, a full password-check queue and a
    // rate limit store that did not answer (on_error: deny) answer so too, and a minimal body
    // (errors.detail) says this alone.
    explanation:
      'the gateway answered on its own without contacting the upstream (maintenance, load shedding, a shutdown, or a limit it could not check)',
    fix: 'Read the details: wait for the maintenance window to end or for load to drop; a limit the gateway could not check (its rate limit store down, with store.redis.on_error: deny) is mended at the gateway.',
    clientMayRetry: true,
    furthestStage: 'not_sent',
  },
  only_if_cached: {
    // RFC 9111 §5.2.1.7: the client wants a stored answer or none, and the cache has none it
    // may give: a 504, made without contacting the upstream. RFC 9209's type for an answer the
    // intermediary generated locally, without attempting the next hop, is proxy_internal_response;
    // a key of its own because that type's row is the 503 of maintenance and load shedding.
    status: 504,
    // gRPC's HTTP mapping: a 504 is UNAVAILABLE (no gRPC call is cached: a POST is never stored).
    grpc: GRPC_CODES.UNAVAILABLE,
    shape: 'gateway',
    flag: 'OIC',
    retryAfter: false,
    title: 'Not in the cache',
    explanation:
      'the client asked for a stored answer only (Cache-Control: only-if-cached), and the gateway had none it could give; the upstream was not contacted',
    fix: 'Ask without only-if-cached to reach the upstream; nothing is wrong with the upstream or the gateway.',
    clientMayRetry: false,
    furthestStage: 'not_sent',
    proxyStatus: 'proxy_internal_response',
  },
  http_request_denied: {
    status: 429,
    grpc: GRPC_CODES.RESOURCE_EXHAUSTED,
    shape: 'gateway',
    flag: 'RL',
    // Candor's own letters: Envoy has no flag for a gateway's own access refusal (UAEX is its
    // external authorization service's), and RL would call a 401 a rate limit.
    finalFlag: 'AD',
    retryAfter: true,
    title: 'Request denied',
    explanation: 'the gateway refused to forward this request',
    fix: "Slow down: wait for the time in Retry-After before trying again. Without Retry-After (a 401 or 403), the route's access rules refuse this client: send valid credentials, or ask the gateway's operators.",
    clientMayRetry: true,
    furthestStage: 'not_sent',
  },
  destination_not_found: {
    status: 404,
    grpc: GRPC_CODES.UNIMPLEMENTED,
    shape: 'gateway',
    flag: 'NR',
    retryAfter: false,
    // One title for each case (RFC 9457 §3.1.3), a static route's path with no file too (variants.ts).
    title: 'Nothing here answers this address',
    explanation: 'no route of the gateway matches this host and path',
    fix: 'Check the URL, or add a route for it to the gateway configuration.',
    clientMayRetry: false,
    furthestStage: 'not_sent',
  },
  proxy_loop_detected: {
    status: 502,
    // Not transient: retrying would loop again until the configuration changes, which is
    // what FAILED_PRECONDITION tells a client (UNAVAILABLE would invite retries).
    grpc: GRPC_CODES.FAILED_PRECONDITION,
    shape: 'gateway',
    flag: 'LOOP',
    retryAfter: false,
    title: 'Request loop detected',
    explanation: 'the request already passed through this gateway (its name is in Via): it is looping',
    fix: 'Check the upstream targets: one of them points back at the gateway.',
    clientMayRetry: false,
    furthestStage: 'not_sent',
  },
  http_request_error: {
    status: 400,
    // A request the gateway could not take as sent: from a gRPC library, a bug or a mangling
    // intermediary, as gRPC's own HTTP mapping says of a 400 (a body over the limit is
    // refined to RESOURCE_EXHAUSTED, as gRPC does for an oversized message: grpc-answer.ts).
    grpc: GRPC_CODES.INTERNAL,
    shape: 'client',
    flag: 'DPE',
    retryAfter: false,
    // One title for every status the type answers with (400, 405, 408, 413, 431, 501): RFC 9457
    // §3.1.3's title names the problem's type, the same at each occurrence.
    title: 'Request not accepted',
    explanation: 'the request could not be accepted as it was sent',
    fix: 'Fix the request as the detail says.',
    clientMayRetry: false,
    furthestStage: 'not_sent',
  },
  misdirected_request: {
    // RFC 9110 §15.5.20: the request is fine, the connection was made for another host (a
    // certificate that does not name it). Nothing failed, so RFC 9209 has no type for it.
    status: 421,
    // gRPC's HTTP mapping names no code for 421: UNKNOWN, as for every status it does not list.
    grpc: GRPC_CODES.UNKNOWN,
    shape: 'client',
    flag: 'MIS',
    retryAfter: false,
    title: 'Misdirected request',
    explanation:
      "the request's host is served under another certificate than the one this connection was made for",
    fix: 'Send the request on a new connection whose TLS server name (SNI) is its host.',
    clientMayRetry: false,
    furthestStage: 'not_sent',
    proxyStatus: null,
  },
  client_closed: {
    // Nobody is left to read it: the log's and the metrics' status for a client that left.
    status: 499,
    grpc: GRPC_CODES.CANCELLED,
    shape: 'client',
    flag: 'CC',
    retryAfter: false,
    title: 'Client closed the request',
    explanation: 'the client closed the connection or cancelled the request before the answer was whole',
    fix: 'Nothing to fix at the gateway or the upstream; if clients give up often, look at how long they wait.',
    // Never sent: the client it is about has gone, so no client reads it to decide a retry.
    clientMayRetry: false,
    furthestStage: 'not_sent',
    proxyStatus: 'http_request_error',
  },
  client_deadline: {
    status: 504,
    grpc: GRPC_CODES.DEADLINE_EXCEEDED,
    // What happened is the slow shape's, but against the deadline the client chose: it says
    // nothing about the target (CLIENTS_DOING).
    shape: 'slow',
    flag: 'CDL',
    retryAfter: false,
    title: "The client's deadline passed",
    explanation:
      "the upstream had not answered within the deadline the client itself set (gRPC's grpc-timeout)",
    fix: 'Give the call a deadline that fits the work, or find why the upstream is slower than the client expects.',
    clientMayRetry: true,
    furthestStage: 'body_streaming',
    proxyStatus: 'http_response_timeout',
  },
  client_deadline_connecting: {
    // client_deadline's case where no connection had taken the request yet: one being opened for
    // it, or a full pool's queue wait; or where no attempt was under way: none yet (a deadline of
    // 0, or one spent before the first), a retry's backoff, a hold. Nothing was sent, so Proxy-Status says RFC 9209's type for
    // a wait to connect to the next hop (a client reading http_response_timeout would take the
    // request as delivered); the deadline is the client's, so it judges no target (CLIENTS_DOING).
    status: 504,
    grpc: GRPC_CODES.DEADLINE_EXCEEDED,
    shape: 'unreachable',
    flag: 'CDLC',
    retryAfter: false,
    title: "The client's deadline passed before the request was sent",
    explanation:
      "the deadline the client itself set (gRPC's grpc-timeout) passed before a connection to the upstream took the request: nothing was sent",
    fix: 'Give the call a deadline that leaves time to connect, or find why connections to the upstream are slow to open or to free up.',
    clientMayRetry: true,
    furthestStage: 'not_sent',
    proxyStatus: 'connection_timeout',
  },
  client_header_list_size: {
    // The upstream's answer is whole and valid, but its head is larger than the client takes (its
    // HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE): sent, the client would reset the stream. RFC 9209's
    // type for a header section the intermediary could not handle is the one Proxy-Status
    // carries; a key of its own because that one is the upstream's fault, and this one is the
    // client's limit: it judges no target (CLIENTS_DOING). Its shape is what happened: an answer
    // came that cannot go on as it is.
    status: 502,
    // gRPC's own status for metadata past a receiver's limit (grpc/doc/statuscodes.md).
    grpc: GRPC_CODES.RESOURCE_EXHAUSTED,
    shape: 'garbage',
    flag: 'CHL',
    retryAfter: false,
    title: 'Response headers too large for the client',
    explanation:
      "the upstream's response head is larger than the client accepts (its HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE)",
    fix: "Raise the client's header list size, or shrink the header that grows (often a cookie or a debug header) at the upstream or with the route's response_headers.",
    clientMayRetry: false,
    furthestStage: 'head_received',
    proxyStatus: 'http_response_header_section_size',
  },
  proxy_internal_error: {
    status: 500,
    grpc: GRPC_CODES.INTERNAL,
    shape: 'internal',
    flag: 'IE',
    retryAfter: false,
    title: 'Internal gateway error',
    explanation: 'the gateway hit an internal error while handling the request',
    fix: "This is a bug in the gateway: report it with the request id and the gateway's log line.",
    clientMayRetry: true,
    furthestStage: 'sent',
  },
} as const satisfies Record<string, FailureKind>;

export type FailureType = keyof typeof FAILURES;

export const FAILURE_TYPES = Object.keys(FAILURES) as FailureType[];

/**
 * The client's own doings: it left (client_closed), its own deadline passed (client_deadline,
 * client_deadline_connecting),
 * or its own limit refused a valid answer (client_header_list_size). The attempt they end says
 * nothing of the target, good or bad: outlier detection, the circuit and the retry budget never
 * judge it (as Envoy does not count a downstream reset), whatever deadline or limit a client
 * may choose, and no stored answer stands in for it.
 */
export const CLIENTS_DOING: ReadonlySet<FailureType> = new Set<FailureType>([
  'client_closed',
  'client_deadline',
  'client_deadline_connecting',
  'client_header_list_size',
]);
