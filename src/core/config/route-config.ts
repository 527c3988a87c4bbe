/**
 * The config's routes as the gateway runs them: what a route matches, rewrites, redirects and
 * sets in headers, how it splits, compresses, caches and limits, and its canary (types.ts holds
 * the whole document).
 */

import type { RouteAccessConfig } from './access-config.ts';
import type { CANARY_METRICS } from './canary-metrics.ts';
import type { HashKey, TemplatePart } from './routing-values.ts';
import type { MaintenanceConfig, RouteTimeouts } from './upstream-config.ts';

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
  /**
   * Media types (as `types`) left uncompressed when the answer may hold a secret an attacker's
   * reflected input sits beside (BREACH): the request carries `Cookie` or `Authorization`, or the
   * response sets a cookie (content-coding.ts: credentialed).
   */
  readonly skipCredentialed: readonly string[];
}

/** routes[].static: the route answers with the files under a directory (proxy/static/). */
export interface StaticConfig {
  /** The directory, absolute (resolved against the config file's). */
  readonly root: string;
  /** The file a path naming a directory is answered with. */
  readonly index: string;
  /** A path under root answered for a path no file answers (a single-page app's `/index.html`); absent: 404. */
  readonly fallback?: string;
  /** Siblings compressed ahead of time (`app.js.br`) offered to a client that accepts them, in this order. */
  readonly precompressed: readonly ContentCoding[];
  /** The Cache-Control every file's answer carries; absent: none (a client's cache revalidates by the validators). */
  readonly cacheControl?: string;
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
  /** The upstream that serves the route; absent when the route answers with a redirect or its static files. */
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
  /** The route answers with the files under a directory instead of forwarding (no upstream). */
  readonly static?: StaticConfig;
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
  /**
   * The route's `timeouts` over each upstream's, by upstream name (every upstream of the config:
   * a split or canary may send the route's requests to any); absent: the route writes none, and
   * its requests run on their upstream's.
   */
  readonly timeouts?: Readonly<Record<string, RouteTimeouts>>;
  /** Per-client token bucket: beyond it, 429 http_request_denied. */
  readonly rateLimit?: RateLimitConfig;
  /** Compress responses the client accepts compressed (proxy/forward/compressing-sink.ts); absent: off. */
  readonly compression?: CompressionConfig;
  /** A non-idempotent request that carries an Idempotency-Key may be retried after it reached the upstream. */
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
  /** The names of the plugins the route runs (`plugins:`), in the order they run; absent: none. */
  readonly plugins?: readonly string[];
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
  /**
   * Seconds of freshness the gateway gives an answer of each status (`lifetimes`, as nginx's
   * proxy_cache_valid): to one whose origin said none (no max-age, s-maxage or Expires), or to
   * every one with `overrideOrigin`. What the client receives is the origin's fields still.
   */
  readonly lifetimes: Readonly<Record<number, number>>;
  /** The lifetimes stand in place of the origin's max-age, s-maxage and Expires. */
  readonly overrideOrigin: boolean;
  /**
   * Under several workers and without a `dir`, the workers keep the route's answers in one folder
   * of the gateway's (workers-store.ts): true unless the config says `workers_share: false`.
   */
  readonly workersShare: boolean;
  /** Seconds past its freshness a stored answer that names no stale-while-revalidate of its own is given while it is refreshed behind. */
  readonly staleWhileRevalidate: number;
}

export interface RateLimitConfig {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: the largest burst allowed. */
  readonly burst: number;
  /** Whose bucket: the client address, the user the route's auth admitted, or the value of a request header (lower-cased name). */
  readonly key:
    | { readonly kind: 'client' }
    | { readonly kind: 'identity' }
    | { readonly kind: 'header'; readonly name: string };
  /** An IPv6 client's bucket is its block of this length (64: a /64, what one host holds). */
  readonly ipv6Prefix: number;
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
