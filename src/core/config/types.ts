/**
 * The validated, normalised, frozen configuration the gateway runs on.
 *
 * The YAML file uses snake_case and human units ("250ms", "8KiB"); this is what the
 * loader turns it into: camelCase, durations in milliseconds, sizes in bytes, URLs parsed.
 * Every default lives in `defaults.ts`; nothing downstream invents one.
 */

import type { CircuitBreakerConfig } from '../retry/circuit.ts';
import type { CANARY_METRICS } from './canary-metrics.ts';
import type { FromEnvironment } from './env.ts';
import type { HashKey, TemplatePart } from './routing-values.ts';

export type { HashKey, TemplatePart } from './routing-values.ts';

export interface GatewayConfig {
  /** This gateway's name, used in Via and as the Proxy-Status member. */
  readonly name: string;
  /** Absolute path of the file this config came from (or "<demo>"). */
  readonly source: string;
  readonly listen: readonly ListenerConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: Readonly<Record<string, UpstreamConfig>>;
  readonly errors: ErrorsConfig;
  /** How a request's path is made what the router matches and the upstream receives (src/core/uri-path.ts). */
  readonly paths: PathsConfig;
  /** Where rate limits are shared with other gateways; absent: each gateway keeps its own. */
  readonly store?: StoreConfig;
  /** Automatic HTTPS; absent: every certificate is a configured file. */
  readonly acme?: AcmeConfig;
  /** Addresses or CIDR blocks of proxies whose X-Forwarded-* / Forwarded headers we keep. */
  readonly trustForwardedFrom: readonly string[];
  readonly limits: DownstreamLimits;
  readonly log: LogConfig;
  /** Where GET /metrics is served; absent: not served (the counting goes on regardless). */
  readonly metrics?: MetricsConfig;
  readonly drain: DrainConfig;
  /** The admin API; absent: off. */
  readonly admin?: AdminConfig;
  /** OpenTelemetry span export; absent: off. */
  readonly tracing?: TracingConfig;
  /**
   * The values `${NAME}` took from the environment, so that GET /config can show `${NAME}` where
   * they are (a secret put in the environment is there to stay out of files, and out of what the
   * admin API prints); absent: none.
   */
  readonly fromEnvironment?: readonly FromEnvironment[];
}

interface MetricsConfig {
  /** As written, e.g. "127.0.0.1:9464". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Names a scrape's Host may give beyond the listener's own (as admin.allowedHosts). */
  readonly allowedHosts: readonly string[];
}

export interface AdminConfig {
  /** As written (or the loopback default), e.g. "127.0.0.1:9901". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /**
   * Where the bearer token is read from (never the token itself: the config is shown by
   * GET /config and sent to workers, the token must appear in neither).
   */
  readonly token: { readonly file: string } | { readonly env: string };
  /** Also answer GET <probesPath>/live and /ready on every main listener (for probes that cannot reach loopback). */
  readonly probesPath?: string;
  /** Host names the admin API answers for beyond its own (lower-case, no port; "*.x" a suffix). */
  readonly allowedHosts: readonly string[];
}

export interface ListenerConfig {
  /** What routes name it by (`match.listener`); the address as written when the file gives none. Unique. */
  readonly name: string;
  /** As written in the config, e.g. "127.0.0.1:8080" or "[::1]:8443". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls?: ListenerTlsConfig;
  /** Load shedding: requests in flight on this listener beyond which new ones get 503. */
  readonly maxInFlight?: number;
  /** In a cluster worker, the listener's max_in_flight that `maxInFlight` is this worker's share of. */
  readonly maxInFlightOf?: number;
  /** In a cluster worker, the listener's max_connections that `maxConnections` is this worker's share of. */
  readonly maxConnectionsOf?: number;
  /**
   * Open client connections (idle keep-alive, busy, and tunnels after a 101 alike) beyond which
   * a new one is closed as soon as it is accepted: the bound on the file descriptors one
   * listener can hold.
   */
  readonly maxConnections: number;
  /**
   * Offer HTTP/2 beside HTTP/1.1 (`h2` by ALPN on TLS, h2c by prior knowledge on a plain
   * port), each stream one request (proxy/accept/listener.ts); the bounds are `limits.http2`.
   */
  readonly http2: boolean;
  /**
   * PROXY protocol (v1, v2) from TCP load balancers at these addresses or CIDR blocks: their
   * connections must open with a header, whose client then stands for the peer; anyone
   * else's must not (proxy/accept/proxy-gate.ts).
   */
  readonly proxyProtocol?: { readonly from: readonly string[] };
}

/** A content coding Candor can apply to a response. */
export type ContentCoding = 'zstd' | 'br' | 'gzip';

/** routes[].compression: what to offer, from what size, for which media types. */
export interface CompressionConfig {
  /** In the route's order of preference (the client's q-values first). */
  readonly encodings: readonly ContentCoding[];
  /** Bytes: a response whose Content-Length is under it goes out as it is. */
  readonly minSize: number;
  /** Media types (`text/html`, or `text/*`), lower-case, without parameters. */
  readonly types: readonly string[];
}

export interface RouteConfig {
  /** Position in the file, used in logs when a route has no name. */
  readonly index: number;
  /** Route name for logs and metrics: `name` from the file, else "<host><path>". */
  readonly name: string;
  /** Lower-cased host without port; "*.example.com" matches any subdomain. Absent: any host. */
  readonly host?: string;
  /** Path prefix, always starting with "/". Matches on segment boundaries ("/v1" matches "/v1/x", not "/v10"). */
  readonly path: string;
  /** The upstream that serves the route; absent when the route answers with a redirect. */
  readonly upstream?: string;
  readonly stripPrefix: boolean;
  /** A path with `%2F` or `%5C` may take this route (else 400): for an upstream that reads them as data. */
  readonly allowEncodedSlashes: boolean;
  /** Method, header and query conditions; absent when the route tests only host and path. */
  readonly conditions?: RouteConditions;
  /** The path the upstream sees, other than the client's (strip_prefix is the simplest case). */
  readonly rewrite?: RewriteConfig;
  /** The route answers itself with this redirect instead of forwarding. */
  readonly redirect?: RedirectConfig;
  readonly requestHeaders?: HeaderRules;
  /** Applied to the upstream's answers and the gateway's own (errors, redirects), Proxy-Status excepted. */
  readonly responseHeaders?: HeaderRules;
  readonly limits: {
    readonly body: number;
    /**
     * A request body up to this size is read whole before a connection is taken (with
     * requestBuffering), and a response up to it is taken whole from the upstream, so the
     * upstream connection goes back to the pool at once, whatever the client's pace.
     */
    readonly buffer: number;
  };
  /** Small request bodies are read whole before an upstream connection is taken (see limits.buffer). */
  readonly requestBuffering: boolean;
  /** Load shedding: requests in flight on this route beyond which new ones get 503. */
  readonly maxInFlight?: number;
  /** In a cluster worker, the route's max_in_flight that `maxInFlight` is this worker's share of. */
  readonly maxInFlightOf?: number;
  /** Maintenance mode: every request gets 503 proxy_internal_response with this message. */
  readonly maintenance?: MaintenanceConfig;
  /** Per-client token bucket: beyond it, 429 http_request_denied. */
  readonly rateLimit?: RateLimitConfig;
  /** A non-idempotent request that carries an Idempotency-Key may be retried after it reached the upstream. */
  /** Compress responses the client accepts compressed (proxy/forward/compressing-sink.ts); absent: off. */
  readonly compression?: CompressionConfig;
  readonly retryIdempotencyKey: boolean;
  /**
   * The upstreams the route's requests are split between, by weight (issue 36); absent: all go
   * to `upstream`. With a split, `upstream` is its first entry's (the loader fills it in).
   */
  readonly split?: readonly SplitSide[];
  /** What keeps one user on one side of the split or canary; absent: each request is drawn anew. */
  readonly hashKey?: HashKey;
  /** The canary of `upstream` (the baseline); absent: none. */
  readonly canary?: CanaryConfig;
  /** The route's response cache (RFC 9111); absent: nothing is stored, nothing served stale. */
  readonly cache?: CacheConfig;
  /** IP lists, CORS and authentication; absent when the route has none (the admit phase's one check). */
  readonly access?: RouteAccessConfig;
}

export interface SplitSide {
  readonly upstream: string;
  /** 0 to 1000; the shares are the weights over their sum. */
  readonly weight: number;
}

/** What a canary's verdict compares (canary-metrics.ts). */
export type CanaryMetric = (typeof CANARY_METRICS)[number];

/** A canary the gateway judges itself: steps of traffic, each compared with the baseline (server/canary). */
export interface CanaryConfig {
  /** The new version's upstream. */
  readonly upstream: string;
  /** The canary's share at each step, in percent, rising, each below 100. */
  readonly steps: readonly number[];
  /** How long each step lasts at least (ms); a step is passed only at its end, on its own counts. */
  readonly stepInterval: number;
  /**
   * How often the step's counts so far are looked at (ms): a canary worse with confidence is
   * rolled back at the first look that shows it, not at the step's end (the confidence is split
   * over a step's looks: judge.ts's lookAlpha).
   */
  readonly checkInterval: number;
  /** Requests each side must have had in a step's window before anything is decided. */
  readonly minRequests: number;
  /** The whole canary's bound (ms): a step still short of requests then is a failure. */
  readonly maxDuration: number;
  readonly compare: readonly CanaryMetric[];
  /** How sure a verdict of "worse" must be (the p-value under 1 − confidence, shared by the metrics). */
  readonly confidence: number;
  /** A canary slower by less than this at the median (ms) is not called slower, however sure the test. */
  readonly latencyMargin: number;
  /**
   * `latency_p99`: an answer is in the tail when slower than this times the baseline's p99 (and
   * than that p99 plus latencyMargin); the canary is worse when more of its answers are.
   */
  readonly latencyP99Factor: number;
  /**
   * A step that passes while the baseline failed more than this share of its requests (percent)
   * is inconclusive: the canary pauses rather than move on (compared with a failing baseline,
   * "no worse" says nothing of its health).
   */
  readonly baselineMaxFailedPercent: number;
  readonly onFailure: 'rollback' | 'pause';
  readonly onSuccess: 'promote' | 'hold';
}

export interface CacheConfig {
  /** Bytes of stored answers (bodies and heads) the route keeps in memory, least recently used out first. */
  readonly maxSize: number;
  /** The largest answer stored: a larger one goes to the client and is not kept. */
  readonly maxEntry: number;
  /**
   * How long past its freshness a stored answer may stand in for a failed upstream (ms): the
   * answer's own `stale-if-error` when it has one, never more than this.
   */
  readonly staleIfError: number;
  /** How long a request waits for the one already fetching the same answer (ms) before it goes itself. */
  readonly lockTimeout: number;
  /** A directory the workers share: stored answers are written there too, and read back on a miss in memory. */
  readonly dir?: string;
  /** Bytes the route's files in `dir` may take; the oldest go first. */
  readonly maxDisk?: number;
}

/** Who may use a route, asked in the admit phase in this order (proxy/admit/access.ts). */
export interface RouteAccessConfig {
  /** Addresses and CIDR blocks that may use the route; absent: any address not denied. */
  readonly allow?: readonly string[];
  /** Addresses and CIDR blocks refused (403), whatever `allow` says. */
  readonly deny?: readonly string[];
  /** Browsers on other origins: preflights answered by the gateway, CORS fields on every answer. */
  readonly cors?: CorsConfig;
  /** Who the client is: missing or bad credentials get 401, valid ones not allowed 403. */
  readonly auth?: AuthConfig;
}

export interface AuthConfig {
  readonly basic?: BasicAuthConfig;
  readonly jwt?: JwtAuthConfig;
  readonly forward?: ForwardAuthConfig;
  /** Send the client's Authorization field upstream (by default it stops at the gateway). */
  readonly forwardAuthorization: boolean;
}

export interface JwtAuthConfig {
  /** Where the keys are fetched (cached by Cache-Control, refetched for an unknown kid); or keysFile. */
  readonly jwksUrl?: string;
  /** Absolute path of a JSON Web Key Set file, read when the config is. */
  readonly keysFile?: string;
  /** The auth hop's name in Proxy-Status (next-hop="auth:NAME") and the log: the JWKS URL's host, else "keys_file". */
  readonly name: string;
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  readonly algorithms: readonly string[];
  /** Milliseconds of clock difference tolerated on exp, nbf and iat. */
  readonly clockSkew: number;
  /** A token without an `exp` claim is refused (require_exp, default true). */
  readonly requireExp: boolean;
  /**
   * The header `typ` values a token may have (RFC 8725 §3.11), in their normal form (policy-values.ts's
   * normalTyp: lower case, `application/` written out); a token without one counts as `application/jwt`.
   */
  readonly types: readonly string[];
  /** Milliseconds: the least time between two fetches of the JWKS (an unknown kid asks for one). */
  readonly jwksMinRefresh: number;
  /** A cookie the token may come in, when Authorization has no Bearer token. */
  readonly cookie?: string;
  /** Claim → request field the upstream reads it in (the client's own copy of that field removed). */
  readonly claimsToHeaders: readonly { readonly claim: string; readonly header: string }[];
}

/** An auth service asked about each request: 2xx lets it in, 401 and 403 are passed on. */
export interface ForwardAuthConfig {
  /** The auth hop's name in Proxy-Status (next-hop="auth:NAME") and the log: the URL's host, or the upstream's name. */
  readonly name: string;
  /**
   * The upstream the service is asked through (its pool, timeouts, circuit breaker, retry rule
   * and budget): the one `upstream` names, or with `url` a one-target upstream of the hop's own,
   * named "auth:HOST", on the upstream defaults with `timeout` as its response timeout.
   */
  readonly upstream: UpstreamConfig;
  /** The upstream is one of `upstreams` (shared with routes, its health checks and status its own). */
  readonly shared: boolean;
  /** The path and query asked: the URL's, or `path`. */
  readonly path: string;
  /** Milliseconds for the whole call, every attempt included. */
  readonly timeout: number;
  /** Client request fields sent to the service (lower-case). */
  readonly sendHeaders: readonly string[];
  /** Fields of the service's 2xx answer sent upstream, the client's own copies removed (lower-case). */
  readonly copyHeaders: readonly string[];
  /** Decisions kept for a while by a key of the request's; absent: every request is asked. */
  readonly cache?: ForwardCacheConfig;
}

/** The service's verdicts (a 2xx, its 401 or 403) kept by a header's or a cookie's value, never its failures. */
export interface ForwardCacheConfig {
  readonly key: Exclude<HashKey, { readonly kind: 'client' }>;
  /** Milliseconds a verdict stands. */
  readonly ttl: number;
  /** Verdicts kept at once; the oldest goes first. */
  readonly maxEntries: number;
}

export interface BasicAuthConfig {
  /** Absolute path of the htpasswd file, read when the config is (each reload reads it again). */
  readonly usersFile: string;
  readonly realm: string;
}

export interface CorsConfig {
  /** Lower-case origins: exact ("https://app.example.com"), a subdomain wildcard ("https://*.example.com"), or "*". */
  readonly origins: readonly string[];
  readonly methods: readonly string[];
  /** Request fields a browser may send (lower-case). */
  readonly headers: readonly string[];
  /** Response fields a script may read: the configured ones, then Proxy-Status, X-Request-Id and Retry-After. */
  readonly exposeHeaders: readonly string[];
  readonly credentials: boolean;
  /** Seconds a browser may keep a preflight's answer; absent: its own default. */
  readonly maxAge?: number;
}

export interface MaintenanceConfig {
  /** Seconds, sent as Retry-After. */
  readonly retryAfter: number;
  readonly message: string;
}

export interface RateLimitConfig {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: the largest burst allowed. */
  readonly burst: number;
  /** Whose bucket: the client address, or the value of a request header (lower-cased name). */
  readonly key: { readonly kind: 'client' } | { readonly kind: 'header'; readonly name: string };
  /** An IPv6 client's bucket is its block of this length (64: a /64, what one host holds). */
  readonly ipv6Prefix: number;
}

export interface ListenerTlsConfig {
  /**
   * The default certificate: served when no certificate of `certificates` (nor of `acme`) names
   * the SNI host. Absent on a listener whose certificates all come from ACME: a handshake for
   * another name then fails.
   */
  readonly cert?: string;
  readonly key?: string;
  /** More certificates, each served to the SNI names it carries (wildcards included). */
  readonly certificates: readonly { readonly cert: string; readonly key: string }[];
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Names whose certificates the gateway orders from the `acme` CA, each served by SNI. */
  readonly acme?: { readonly names: readonly string[] };
  /**
   * Let through a request whose Host names another certificate than the one its connection's
   * SNI chose (domain fronting, or a connection reused for another host); false: 421.
   */
  readonly allowMisdirected: boolean;
}

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';

/** Automatic HTTPS: where certificates for `listen[].tls.acme.names` are ordered and kept. */
export interface AcmeConfig {
  /** The ACME server's directory URL. */
  readonly directory: string;
  readonly email?: string;
  /** Absolute path of a PEM file: the root the ACME server's own HTTPS chains to (a private CA). */
  readonly ca?: string;
  /** In order of preference. */
  readonly challenges: readonly AcmeChallengeType[];
  /** Renew this long before expiry; absent: the CA's renewal window (ARI), else a third of the lifetime before. */
  readonly renewBefore?: number;
  /** Absolute path of the folder that keeps the account key and the certificates (owner-only). */
  readonly storage: string;
}

/** What a header or query parameter must be. */
export type ValueTest =
  | { readonly kind: 'value'; readonly value: string }
  | { readonly kind: 'regex'; readonly pattern: string }
  | { readonly kind: 'present'; readonly present: boolean };

export interface FieldTest {
  /** Lower-cased for headers; as written for query parameters. */
  readonly name: string;
  readonly test: ValueTest;
}

export interface RouteConditions {
  /** Names of the listeners the request must have come in on; absent: any listener. */
  readonly listeners?: readonly string[];
  /** The scheme the request came in on (its listener's: https with TLS); absent: either. */
  readonly scheme?: 'http' | 'https';
  /** Methods as sent (case-sensitive); absent: any method. */
  readonly methods?: readonly string[];
  readonly headers: readonly FieldTest[];
  readonly query: readonly FieldTest[];
}

export type RewriteConfig =
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'regex'; readonly pattern: string; readonly replace: string };

export type RedirectConfig =
  | {
      readonly kind: 'origin';
      /** Absent: the scheme the client used. */
      readonly scheme?: 'http' | 'https';
      /** Absent: the scheme's default port when the scheme changes, else the port the client used. */
      readonly port?: number;
      readonly status: 301 | 302 | 307 | 308;
    }
  | { readonly kind: 'location'; readonly location: string; readonly status: 301 | 302 | 307 | 308 };

export interface HeaderRule {
  /** As written in the file (the case the field goes out in). */
  readonly name: string;
  readonly lower: string;
  readonly value: readonly TemplatePart[];
}

/** remove, then set (replacing every field of that name), then add (beside the ones there). */
export interface HeaderRules {
  readonly set: readonly HeaderRule[];
  readonly add: readonly HeaderRule[];
  /** Lower-cased names. */
  readonly remove: readonly string[];
}

export type BalancerKind = 'round_robin' | 'least_conn' | 'hash';

/** How the gateway speaks to an upstream's targets: HTTP/1.1, HTTP/2 in the clear (prior knowledge), HTTP/2 over TLS (ALPN). */
export type UpstreamProtocol = 'http1' | 'h2c' | 'h2';

export interface UpstreamConfig {
  readonly name: string;
  /** As written; with `discovery`, empty here and filled by each answer (upstream/discovery). */
  readonly targets: readonly TargetConfig[];
  /** Targets found by DNS, in place of `targets`. */
  readonly discovery?: DiscoveryConfig;
  /**
   * Not read from the file: with `discovery` and no target found yet, why (the latest
   * question's failure; null while the first one is out), filled in with the targets.
   */
  readonly discoveryFailure?: string | null;
  readonly balancer: BalancerKind;
  readonly protocol: UpstreamProtocol;
  /** What the hash balancer hashes: the client address, a header or a cookie. */
  readonly hashKey: HashKey;
  readonly pool: PoolConfig;
  readonly timeouts: UpstreamTimeouts;
  readonly tls: UpstreamTlsConfig;
  /** Active health checks; absent: off (targets stay in rotation unless passive health ejects them). */
  readonly healthCheck?: HealthCheckConfig;
  /** Milliseconds over which a target back in rotation grows to its full share; 0: off. */
  readonly slowStart: number;
  /** Percent of targets passing health checks below which the checks are ignored (panic); 0: never. */
  readonly panicThreshold: number;
  readonly outlierDetection: OutlierDetectionConfig;
  readonly circuitBreaker: CircuitBreakerConfig;
  readonly retries: RetryConfig;
  /** Maintenance mode for every route to this upstream. */
  readonly maintenance?: MaintenanceConfig;
  /** Waiting out a restart (upstream/targets/hold-queue.ts); absent: a request no target takes is answered at once. */
  readonly hold?: HoldConfig;
}

/** How requests no target can take wait for one to come back, bounded in time, count and bytes. */
export interface HoldConfig {
  /** The longest a request waits in all, held again after a failed try included. */
  readonly timeout: number;
  /** Requests waiting at once; one more is answered 503 at once. */
  readonly maxRequests: number;
  /** Bytes of request bodies the waiting requests keep in memory together; a body that would pass it is not held. */
  readonly maxBody: number;
  /** The configured values, where `--workers N` gave this worker a share of them (worker-share.ts): what a refusal names. */
  readonly of?: { readonly maxRequests: number; readonly maxBody: number };
}

export interface PoolConfig {
  /** Connections per target (HTTP/2: sessions, opened only when every open one is at its stream bound). */
  readonly maxConnections: number;
  /** HTTP/2: streams at once on one session, lowered by the upstream's SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxStreams: number;
  readonly idleTimeout: number;
  /** Requests waiting for a connection, per upstream, beyond which new ones get 503 at once. */
  readonly maxPending: number;
  /** Longest wait for a connection before 503 connection_limit_reached. */
  readonly queueTimeout: number;
}

export interface HealthCheckConfig {
  readonly method: string;
  readonly path: string;
  /** Host header to send; default: the target's host:port. */
  readonly host?: string;
  /** Inclusive status ranges that count as healthy. */
  readonly expectStatus: readonly (readonly [number, number])[];
  readonly interval: number;
  readonly timeout: number;
  /** Consecutive successes that bring a target back. */
  readonly rise: number;
  /** Consecutive failures that take it out. */
  readonly fall: number;
}

export interface OutlierDetectionConfig {
  /** Consecutive gateway failures (unreachable, slow, reset, garbage) that eject a target; 0: off. */
  readonly consecutiveFailures: number;
  /** First ejection; each further ejection of the same target lasts this much longer. */
  readonly baseEjectionTime: number;
  readonly maxEjectionTime: number;
  /** Panic threshold: at most this share of the pool is ejected at once (at least one target). */
  readonly maxEjectedPercent: number;
}

/** An upstream's `circuit_breaker`: the thresholds of the one circuit code the gateway and candor/client share. */
export type { CircuitBreakerConfig };

export interface RetryConfig {
  /** Attempts in all, the first included; 1: no retries. */
  readonly attempts: number;
  /** Failure types worth another attempt. */
  readonly on: readonly string[];
  /** Timeout of each attempt's wait for the response head; default: timeouts.response. */
  readonly perTryTimeout: number;
  readonly backoffBase: number;
  readonly backoffMax: number;
  /** Retries may add at most this fraction of the upstream's active requests... */
  readonly budgetRatio: number;
  /** ...but this many concurrent retries are always allowed. */
  readonly budgetMinConcurrent: number;
  /** The budget's floor: this many retries a second are allowed whatever the ratio says (0: none). */
  readonly budgetMinPerSecond: number;
  /** Request bodies up to this size are kept so they can be replayed; larger ones are never retried once sent. */
  readonly replayBody: number;
}

export interface TargetConfig {
  /** The target URL as written, e.g. "http://127.0.0.1:3001". */
  readonly url: string;
  /** "http:" or "https:". */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP literal (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** scheme://host:port, the key of its connection pool. */
  readonly origin: string;
  readonly weight: number;
}

interface UpstreamTimeouts {
  /** DNS lookup plus TCP (and TLS) connect. */
  readonly connect: number;
  /** From the request written to the response head received. */
  readonly response: number;
  /** Longest silence between two body chunks of the response. */
  readonly read: number;
  /** Whole exchange, from routing to the last byte. */
  readonly total: number;
  /** Longest silence, both ways, of an upgraded connection (a WebSocket tunnel) before it is closed. */
  readonly tunnelIdle: number;
}

interface UpstreamTlsConfig {
  /** PEM file(s) of CAs to trust in addition to (not instead of) the system store. */
  readonly ca?: string;
  /** SNI and certificate name to check; default: the target's hostname. */
  readonly servername?: string;
  /** Skip certificate verification (never in production; logged at startup). */
  readonly insecureSkipVerify: boolean;
  /** A client certificate (and its key) presented to targets that ask for one (mTLS). */
  readonly cert?: string;
  readonly key?: string;
}

export interface PathsConfig {
  /** Unreserved escapes decoded, dot-segments removed, before matching and forwarding. */
  readonly normalize: boolean;
  /** Runs of "/" merged into one, before matching and forwarding. */
  readonly mergeSlashes: boolean;
}

interface ErrorsConfig {
  /** Show the target's address (not just the upstream's name) in Proxy-Status next-hop and error bodies. */
  readonly exposeUpstreamAddress: boolean;
  /** `minimal`: details and next hop stay out of what clients see (body, Proxy-Status); the log keeps them. */
  readonly detail: 'full' | 'minimal';
  /** The operator's pages, read when the config is loaded: the HTML template's text, problem+json's extra members. */
  readonly pages: { readonly html?: string; readonly json?: Readonly<Record<string, unknown>> };
  /** Where they were read from (absolute). */
  readonly pageFiles: { readonly html?: string; readonly json?: string };
}

export interface DownstreamLimits {
  /** Largest request header section (request line included) before 431. */
  readonly headerSize: number;
  /** Longest request target before 414. */
  readonly uriLength: number;
  /** Time allowed for the client to send the whole header section before 408. */
  readonly headerTimeout: number;
  /** Longest silence while receiving a request body before 408. */
  readonly bodyIdleTimeout: number;
  /** A request body (read whole, or streamed from when an upstream connection takes it) must be in by this, plus a second per bodyMinRate bytes received, or 408. */
  readonly bodyReadTimeout: number;
  /** Bytes per second a request body must average after bodyReadTimeout; 0: no rate, only the idle timeout. */
  readonly bodyMinRate: number;
  /** Longest time a client may take no byte of a response the gateway is waiting to send, before it is cut. */
  readonly sendTimeout: number;
  /** Idle keep-alive connections from clients are closed after this. */
  readonly keepAliveTimeout: number;
  /**
   * Responses a client reads slower than their upstream sends, past `routes[].limits.buffer`,
   * go on to a file so the upstream connection goes back to its pool (proxy/forward/response-spool.ts).
   */
  readonly spool: SpoolLimits;
  /** Where spooled responses' files are made (absolute; unlinked as soon as opened). */
  readonly spoolDir: string;
  /** The bounds of the downstream HTTP/2 server (proxy/accept/h2/h2-limits.ts reads them). */
  readonly http2: Http2Limits;
  /** Per client address (proxy/accept/client-limits.ts); absent: no per-client bound. */
  readonly perClient?: PerClientLimits;
}

/** Bytes of disk spooled responses may take, in bytes; past either, the upstream waits for the client. */
export interface SpoolLimits {
  /** One response's file. */
  readonly maxResponse: number;
  /** Every spooled response's files together, in this process (a cluster's workers split it); 0: no spooling. */
  readonly maxTotal: number;
}

/** What one client address may hold at once in one process; an absent field is no bound. */
export interface PerClientLimits {
  /** Open connections; past it a new one is answered 429 and closed. */
  readonly connections?: number;
  /** Requests in flight; past it a new one is answered 429. */
  readonly requests?: number;
}

/** Bounds against hostile HTTP/2 clients, per connection; bytes and milliseconds. */
export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (names, values and 32 bytes a field). */
  readonly maxHeaderListSize: number;
  /** Fields in one header list, pseudo-fields included. */
  readonly maxHeaderFields: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table, the client's and ours. */
  readonly headerTableSize: number;
  /** What one connection may hold in nghttp2, in bytes (node:http2 takes whole MiB). */
  readonly maxSessionMemory: number;
  /**
   * What one connection may have held for it in the gateway, summed over its streams: request
   * bodies read whole and responses waiting for the client to take them (bytes).
   */
  readonly connectionBuffer: number;
  /** Invalid frames (malformed requests, empty DATA frames) tolerated on one connection: the next closes it. */
  readonly maxInvalidFrames: number;
  /**
   * New streams node:http2 refuses in a row on one connection (past maxSessionMemory, or while it
   * still holds maxConcurrentStreams streams): the next closes it.
   */
  readonly maxRejectedStreams: number;
  /** The fixed window the rates below are counted over. */
  readonly floodWindow: number;
  /** Streams the client resets before their answer, per window (rapid reset, CVE-2023-44487). */
  readonly maxClientResets: number;
  readonly maxPings: number;
  readonly maxSettingsFrames: number;
  /** New streams per window on one connection. */
  readonly maxRequests: number;
  /** A response whose stream cannot move (the client's window stays shut) this long is reset. */
  readonly sendTimeout: number;
  /** A connection with no stream open and no PING or SETTINGS this long gets GOAWAY NO_ERROR. */
  readonly idleTimeout: number;
}

/** What SIGTERM does (gateway/drain.ts), in milliseconds. */
export interface DrainConfig {
  /** Time between reporting not-ready and closing the listeners: a load balancer stops sending meanwhile. */
  readonly delay: number;
  /** From the signal on: what is still open then (tunnels, slow responses) is cut. */
  readonly timeout: number;
}

export interface LogConfig {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** "stdout", "stderr" or a file path for the access log and the gateway's own events. */
  readonly destination: string;
}

export interface TracingConfig {
  /** Where spans are posted (OTLP/HTTP, JSON), e.g. "http://127.0.0.1:4318/v1/traces". */
  readonly otlpEndpoint: string;
  /** Share of new traces recorded (0–1); a continued trace follows the client's sampled flag. */
  readonly sampleRatio: number;
  /** The `service.name` resource attribute. */
  readonly serviceName: string;
}

export interface StoreConfig {
  readonly redis: RedisStoreConfig;
}

export interface RedisStoreConfig {
  /** redis:// or rediss://, password included (never logged nor shown: see RedisRates). */
  readonly url: string;
  /** What a rate-limited request gets while Redis does not answer in `timeout`. */
  readonly onError: 'allow' | 'deny';
  /** Longest wait for one decision, in ms. */
  readonly timeout: number;
  /** Put before every key, so several fleets can share one Redis. */
  readonly prefix: string;
}

export interface DiscoveryConfig {
  /** The name asked, e.g. "api.default.svc.cluster.local" or "_http._tcp.api.internal". */
  readonly dns: string;
  readonly type: 'A' | 'AAAA' | 'SRV';
  /** The targets' port for A and AAAA answers (SRV records carry their own). */
  readonly port?: number;
  readonly scheme: 'http' | 'https';
  /** DNS servers asked, host:port; empty: the system's. */
  readonly resolvers: readonly string[];
  /** Asked again this often when the answer has no TTL (SRV), and after a failed answer (ms). */
  readonly interval: number;
  /** An answer's TTL is held within these bounds (ms). */
  readonly minTtl: number;
  readonly maxTtl: number;
  /** Addresses (and CIDR blocks) an answer may point at although they are refused by default (link-local, unspecified, metadata, the admin listener). */
  readonly allow: readonly string[];
  /** Targets kept from one answer at most (the first ones in order of origin). */
  readonly maxTargets: number;
}
