/**
 * An upstream of a document that passed every check, as the runtime config has it: its
 * targets, hold, health checks, outlier detection, circuit breaker and retries, every
 * default filled in from defaults.ts (normalize.ts does the rest of the document).
 */
import { resolve } from 'node:path';
import { accepted } from './accepted.ts';
import { parseTargetUrl } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import { toDiscovery } from './normalize-fleet.ts';
import { durationMs, sizeBytes } from './normalize-limits.ts';
import { parseStatusRanges } from './policy-values.ts';
import { parseHashKey } from './routing-values.ts';
import type { RawConfig } from './schema.ts';
import type {
  CircuitBreakerConfig,
  HealthCheckConfig,
  HoldConfig,
  MaintenanceConfig,
  OutlierDetectionConfig,
  RetryConfig,
  TargetConfig,
  UpstreamConfig,
} from './types.ts';

type RawUpstream = NonNullable<RawConfig['upstreams']>[string];
type RawTarget = NonNullable<RawUpstream['targets']>[number];

export function toUpstream(name: string, raw: RawUpstream, baseDir: string): UpstreamConfig {
  const timeouts = raw.timeouts ?? {};
  const fallback = DEFAULTS.upstream;
  const tls = raw.tls ?? {};
  return {
    name,
    targets: (raw.targets ?? []).map(toTarget),
    ...(raw.discovery === undefined ? {} : { discovery: toDiscovery(raw.discovery) }),
    balancer: raw.balancer ?? fallback.balancer,
    protocol: raw.protocol ?? fallback.protocol,
    hashKey: accepted(parseHashKey(raw.hash_key ?? fallback.hashKey)),
    pool: {
      maxConnections: raw.pool?.max_connections ?? fallback.pool.maxConnections,
      idleTimeout: durationMs(raw.pool?.idle_timeout, fallback.pool.idleTimeout),
      maxPending: raw.pool?.max_pending ?? fallback.pool.maxPending,
      queueTimeout: durationMs(raw.pool?.queue_timeout, fallback.pool.queueTimeout),
      maxStreams: raw.pool?.max_streams ?? fallback.pool.maxStreams,
    },
    timeouts: {
      connect: durationMs(timeouts.connect, fallback.timeouts.connect),
      response: durationMs(timeouts.response, fallback.timeouts.response),
      read: durationMs(timeouts.read, fallback.timeouts.read),
      send: durationMs(timeouts.send, fallback.timeouts.send),
      total: durationMs(timeouts.total, fallback.timeouts.total),
      totalIncludesBody: timeouts.total_includes_body ?? fallback.timeouts.totalIncludesBody,
      tunnelIdle: durationMs(timeouts.tunnel_idle, fallback.timeouts.tunnelIdle),
      tunnelHalfClosed: durationMs(timeouts.tunnel_half_closed, fallback.timeouts.tunnelHalfClosed),
    },
    tls: {
      ...(tls.ca === undefined ? {} : { ca: resolve(baseDir, tls.ca) }),
      ...(tls.crl === undefined ? {} : { crl: resolve(baseDir, tls.crl) }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      insecureSkipVerify: tls.insecure_skip_verify ?? fallback.tls.insecureSkipVerify,
      ...(tls.cert === undefined ? {} : { cert: resolve(baseDir, tls.cert) }),
      ...(tls.key === undefined ? {} : { key: resolve(baseDir, tls.key) }),
    },
    ...(raw.health_check === undefined ? {} : { healthCheck: toHealthCheck(raw.health_check) }),
    slowStart: durationMs(raw.slow_start, fallback.slowStart),
    panicThreshold: raw.panic_threshold ?? fallback.panicThreshold,
    outlierDetection: toOutlierDetection(raw.outlier_detection ?? {}),
    circuitBreaker: toCircuitBreaker(raw.circuit_breaker ?? {}),
    retries: toRetries(raw.retries ?? {}, durationMs(timeouts.response, fallback.timeouts.response)),
    ...(raw.maintenance === undefined ? {} : { maintenance: toMaintenance(raw.maintenance) }),
    ...(raw.hold === undefined ? {} : { hold: toHold(raw.hold) }),
  };
}

function toHold(raw: NonNullable<RawUpstream['hold']>): HoldConfig {
  const fallback = DEFAULTS.upstream.hold;
  return {
    timeout: durationMs(raw.timeout, fallback.timeout),
    maxRequests: raw.max_requests ?? fallback.maxRequests,
    maxBody: sizeBytes(raw.max_body, fallback.maxBody),
  };
}

function toHealthCheck(raw: NonNullable<RawUpstream['health_check']>): HealthCheckConfig {
  const fallback = DEFAULTS.healthCheck;
  return {
    method: raw.method ?? fallback.method,
    path: raw.path ?? fallback.path,
    ...(raw.host === undefined ? {} : { host: raw.host }),
    expectStatus:
      raw.expect_status === undefined
        ? fallback.expectStatus
        : accepted(parseStatusRanges(raw.expect_status)),
    interval: durationMs(raw.interval, fallback.interval),
    timeout: durationMs(raw.timeout, fallback.timeout),
    rise: raw.rise ?? fallback.rise,
    fall: raw.fall ?? fallback.fall,
  };
}

function toOutlierDetection(raw: NonNullable<RawUpstream['outlier_detection']>): OutlierDetectionConfig {
  const fallback = DEFAULTS.upstream.outlierDetection;
  return {
    consecutiveFailures: raw.consecutive_failures ?? fallback.consecutiveFailures,
    baseEjectionTime: durationMs(raw.base_ejection_time, fallback.baseEjectionTime),
    maxEjectionTime: durationMs(raw.max_ejection_time, fallback.maxEjectionTime),
    maxEjectedPercent: raw.max_ejected_percent ?? fallback.maxEjectedPercent,
  };
}

function toCircuitBreaker(raw: NonNullable<RawUpstream['circuit_breaker']>): CircuitBreakerConfig {
  const fallback = DEFAULTS.upstream.circuitBreaker;
  return {
    consecutiveFailures: raw.consecutive_failures ?? fallback.consecutiveFailures,
    openTime: durationMs(raw.open_time, fallback.openTime),
    halfOpenRequests: raw.half_open_requests ?? fallback.halfOpenRequests,
  };
}

function toRetries(raw: NonNullable<RawUpstream['retries']>, answerTimeout: number): RetryConfig {
  const fallback = DEFAULTS.upstream.retries;
  return {
    attempts: raw.attempts ?? fallback.attempts,
    on: [...(raw.on ?? fallback.on)],
    perTryTimeout: durationMs(raw.per_try_timeout, answerTimeout),
    backoffBase: durationMs(raw.backoff?.base, fallback.backoffBase),
    backoffMax: durationMs(raw.backoff?.max, fallback.backoffMax),
    budgetRatio: raw.budget?.ratio ?? fallback.budgetRatio,
    budgetMinConcurrent: raw.budget?.min_concurrent ?? fallback.budgetMinConcurrent,
    budgetMinPerSecond: raw.budget?.min_per_second ?? fallback.budgetMinPerSecond,
    replayBody: sizeBytes(raw.replay_body, fallback.replayBody),
  };
}

function toTarget(raw: RawTarget): TargetConfig {
  return {
    url: raw.url,
    ...accepted(parseTargetUrl(raw.url)),
    weight: raw.weight ?? DEFAULTS.target.weight,
    priority: raw.priority ?? DEFAULTS.target.priority,
  };
}

/** A route's or an upstream's maintenance answer (the one shape both take). */
export function toMaintenance(raw: NonNullable<RawUpstream['maintenance']>): MaintenanceConfig {
  return {
    // Retry-After is whole seconds; round up so a client never comes back early.
    retryAfter: Math.ceil(durationMs(raw.retry_after, DEFAULTS.maintenance.retryAfter * 1000) / 1000),
    message: raw.message ?? DEFAULTS.maintenance.message,
  };
}
