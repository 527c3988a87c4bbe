/**
 * The config's upstreams as the gateway runs them: targets (or their DNS discovery), balancer,
 * pool, timeouts, TLS, health checks, outlier detection, circuit breaker, retries, hold.
 */

import type { CircuitBreakerConfig } from '../retry/circuit.ts';
import type { HashKey } from './routing-values.ts';

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
  /** Lower is preferred (as SRV's): the balancer uses the lowest priority that has a target in rotation; 0 by default. */
  readonly priority: number;
}

export interface UpstreamTimeouts {
  /** DNS lookup plus TCP (and TLS) connect. */
  readonly connect: number;
  /** From the request written to the response head received. */
  readonly response: number;
  /** Longest silence between two body chunks of the response. */
  readonly read: number;
  /**
   * Longest the upstream may take none of the request body bytes waiting for it (a write it did not
   * take whole, until it drains): nginx's proxy_send_timeout. Never runs while the client's bytes are awaited.
   */
  readonly send: number;
  /**
   * Every attempt, backoff and hold, from the first attempt to the response head (to the last
   * byte of the body with totalIncludesBody).
   */
  readonly total: number;
  /** The total deadline runs on to the end of the response body (an overall cap); by default it ends at the head. */
  readonly totalIncludesBody: boolean;
  /** Longest silence, both ways, of an upgraded connection (a WebSocket tunnel) before it is closed. */
  readonly tunnelIdle: number;
  /**
   * Longest silence of a tunnel once a side has ended its half (FIN), when shorter than
   * tunnelIdle: the other side is expected to close soon, and bytes it still sends refresh it.
   */
  readonly tunnelHalfClosed: number;
}

/** The setting a head clock is, as its 504's details name it ("per-try timeout of 200 ms"). */
export type HeadClockName = 'response timeout' | 'per-try timeout';

/**
 * What a route's requests to one upstream run on when the route writes `timeouts` (or takes
 * `route_defaults.timeouts`): each key the route's where it wrote one, else the upstream's.
 */
export interface RouteTimeouts extends UpstreamTimeouts {
  /**
   * Each attempt's clocks on its connection, in place of the pool's: the head clock the shorter of
   * the per-try timeout and `response` (as the pool's, upstream.ts), the read clock `read`, the send clock `send`.
   */
  readonly exchange: {
    readonly head: number;
    readonly headName: HeadClockName;
    readonly read: number;
    readonly send: number;
  };
}

interface UpstreamTlsConfig {
  /** PEM file(s) of CAs to trust in addition to (not instead of) the system store. */
  readonly ca?: string;
  /** PEM file of revocation lists, one from each CA of the upstream's chain: a revoked certificate is refused. */
  readonly crl?: string;
  /** SNI and certificate name to check; default: the target's hostname. */
  readonly servername?: string;
  /** Skip certificate verification (never in production; logged at startup). */
  readonly insecureSkipVerify: boolean;
  /** A client certificate (and its key) presented to targets that ask for one (mTLS). */
  readonly cert?: string;
  readonly key?: string;
}

/** Maintenance mode, of a route or of every route to an upstream (routes name it too: route-config.ts). */
export interface MaintenanceConfig {
  /** Seconds, sent as Retry-After. */
  readonly retryAfter: number;
  readonly message: string;
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
