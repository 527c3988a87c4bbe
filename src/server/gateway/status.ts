import type { CircuitState } from '../../core/retry/circuit.ts';
import type { RefusalCounts } from '../../observe/metrics/metrics.ts';
import type { SessionStoreStatus } from '../../proxy/admit/oidc/session-store.ts';
import type { RedisRates, StoreStatus } from '../../proxy/admit/redis-rates.ts';
import type { DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import { isAvailable, isOnlyEjected } from '../../upstream/targets/target-state.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { CertificateStatus } from '../acme/acme-manager.ts';
import type { LiveRuntime } from './runtime.ts';
import type { RuntimeChanges } from './runtime-changes.ts';

/**
 * One process's view of its gateway, as plain JSON (it crosses the IPC channel and the admin
 * API as is). Times are wall-clock ISO strings: the monotonic clock each process keeps means
 * nothing to another process or to an operator.
 */
export interface GatewayStatus {
  readonly config_hash: string;
  readonly draining: boolean;
  readonly upstreams: Record<string, UpstreamStatus>;
  readonly routes: Record<string, RouteStatus>;
  /** The shared rate-limit store (`store.redis`) as this process's connection sees it; null: none configured. */
  readonly store: StoreStatus | null;
  /** Each certificate ordered by ACME (names, issuer, not-after, next renewal, last error); absent: none ordered here. */
  readonly certificates?: readonly CertificateStatus[];
  /** Each auth hop (a forward-auth service, a JWKS endpoint) by its name, "auth:HOST". */
  readonly auth_hops: Record<string, AuthHopStatus>;
  /** Each plugin's hook calls in this process, by its stage name "plugin:NAME" (docs/plugins.md); absent in an older worker. */
  readonly plugins?: Record<string, PluginStatus>;
  /** Each Redis OpenID Connect routes keep their sessions in (`auth.oidc.store.redis`) as this process's connection sees it; absent in an older worker. */
  readonly session_stores?: readonly SessionStoreStatus[];
}

/** A plugin's hooks as this process ran them: calls, failures (threw or refused), overruns, seconds spent. */
export interface PluginStatus {
  readonly calls: number;
  readonly failures: number;
  readonly overruns: number;
  readonly seconds: number;
  /** Its errors nothing caught (a timer that threw, a promise left to reject), under `candor serve`; absent in an older worker. */
  readonly uncaught?: number;
}

/** An auth hop's health: the circuit of the upstream it goes through, its answers, its latest failure. */
export interface AuthHopStatus {
  readonly kind: 'forward' | 'jwks' | 'oidc';
  /** The upstream a forward-auth service is asked through; null for a JWKS endpoint (fetched on its own, last good keys kept). */
  readonly upstream: string | null;
  readonly circuit: { readonly state: CircuitState; readonly open_until: string | null } | null;
  /** This process's calls: verdicts (allowed, denied), key sets fetched, and failures of the hop. */
  readonly counts: {
    readonly allowed: number;
    readonly denied: number;
    readonly fetched: number;
    readonly failed: number;
  };
  readonly last_failure: { readonly type: string; readonly details: string; readonly at: string } | null;
}

export interface UpstreamStatus {
  readonly circuit: { readonly state: CircuitState; readonly open_until: string | null };
  readonly panic: boolean;
  readonly in_flight: number;
  readonly pending: number;
  readonly retry_budget: { readonly tokens: number; readonly retries_in_flight: number };
  readonly targets: TargetStatus[];
  /** DNS discovery (`discovery`): the name asked, when the set last changed, the latest failure; null: targets written. */
  readonly discovery: DiscoveryStatus | null;
}

export interface DiscoveryStatus {
  readonly dns: string;
  readonly type: 'A' | 'AAAA' | 'SRV';
  /** The current set, as the targets above list it. */
  readonly targets: string[];
  readonly changed_at: string | null;
  readonly resolved_at: string | null;
  /** The latest question's failure while the last good set is kept ("empty", "ETIMEOUT"…); null: it answered. */
  readonly failure: string | null;
}

export interface TargetStatus {
  /** As the config writes it. */
  readonly url: string;
  /**
   * scheme://host:port: the target as the log line's `target`, the metrics' `target` label, the
   * spans and the ejection lines name it (`HTTP://LocalHost:8080/` is `http://localhost:8080`),
   * so that a target read off any of them is found here.
   */
  readonly origin: string;
  /** The weight the balancer uses (the admin API's, else the config's). */
  readonly weight: number;
  readonly config_weight: number;
  /** Its tier: lower is preferred, the next one takes requests only when every target of the lower ones is out. */
  readonly priority: number;
  readonly admin: 'enabled' | 'draining' | 'disabled';
  /** The active checks' verdict: unchecked without a health_check. */
  readonly health: 'healthy' | 'unhealthy' | 'unchecked';
  readonly last_check: {
    readonly ok: boolean;
    readonly at: string;
    readonly ms: number;
    readonly status: number | null;
    readonly failure: string | null;
  } | null;
  /** Its ejection as a circuit (candor_circuit_state's): `half_open` once its time ran out, until its probe. */
  readonly circuit: { readonly state: CircuitState; readonly open_until: string | null };
  /** While `circuit.state` is `open`: its ejection's time is not over. */
  readonly ejected: boolean;
  readonly ejected_until: string | null;
  readonly ejections: number;
  readonly in_flight: number;
  readonly last_failure: { readonly type: string; readonly at: string } | null;
  readonly pool: { readonly open: number; readonly idle: number; readonly waiting: number };
}

interface RouteStatus {
  /** null for a route that answers with a redirect. */
  readonly upstream: string | null;
  readonly maintenance: { readonly active: boolean; readonly source: 'config' | 'admin' | null };
  /** The route's cache (`routes[].cache`); null without one. */
  readonly cache: RouteCacheStatus | null;
  /** The 401s and 403s its access rules answered, by method (`GET`…, `_OTHER`); absent in an older worker. */
  readonly refused?: Record<string, RefusalCounts>;
}

/** What a route's cache holds in memory, and the stored answers it gave in place of a failed upstream, by cause. */
export interface RouteCacheStatus {
  readonly entries: number;
  readonly bytes: number;
  /** By the failure's type (`connection_refused`…), or `upstream_503` for the upstream's own 5xx. */
  readonly stale: Record<string, number>;
  /**
   * A cluster worker's, to its primary, of a cache the workers share (never in the merged
   * status): its answers by id with their bytes (AnswerCache.answerIds), null past the most it lists.
   */
  readonly ids?: Record<string, number> | null;
}

/** Each plugin of the config, its counts (zero before its first call). */
function pluginsStatus(runtime: LiveRuntime): Record<string, PluginStatus> {
  const counted = runtime.metrics.stageCounts('plugin:');
  const plugins: Record<string, PluginStatus> = {};
  for (const name of Object.keys(runtime.config.plugins ?? {}))
    plugins[`plugin:${name}`] = counted[`plugin:${name}`] ?? {
      calls: 0,
      failures: 0,
      overruns: 0,
      seconds: 0,
      uncaught: 0,
    };
  return plugins;
}

/** performance.now() → wall clock. */
function wallClock(monotonic: number): string {
  return new Date(performance.timeOrigin + monotonic).toISOString();
}

export function gatewayStatus(
  runtime: LiveRuntime,
  changes: RuntimeChanges,
  configHash: string,
  draining: boolean,
  shared: {
    readonly store?: RedisRates | undefined;
    readonly discovered?: ReadonlyMap<string, DiscoveryReport>;
    readonly certificates?: readonly CertificateStatus[];
    /** A cluster worker's: its shared caches say what they hold, for the primary to count each answer once. */
    readonly worker?: boolean;
  } = {},
): GatewayStatus {
  const now = performance.now();
  const upstreams: Record<string, UpstreamStatus> = {};
  for (const [name, upstream] of runtime.upstreams)
    upstreams[name] = upstreamStatus(upstream, now, shared.discovered?.get(name));
  const routes: Record<string, RouteStatus> = {};
  for (const route of runtime.config.routes) {
    // A redirect's route has no upstream: its own maintenance is all there is.
    const upstream = route.upstream === undefined ? undefined : runtime.config.upstreams[route.upstream];
    const active = runtime.admission.maintenance(route, upstream) !== undefined;
    const fromConfig = (route.maintenance ?? upstream?.maintenance) !== undefined;
    const source = changes.maintenance(route.name) !== undefined ? 'admin' : fromConfig ? 'config' : null;
    const stored = runtime.caches.get(route.name);
    const cache =
      stored === undefined
        ? null
        : {
            entries: stored.size,
            bytes: stored.bytes,
            stale: runtime.metrics.staleAnswers(route.name),
            ...(shared.worker === true && stored.disk !== undefined
              ? { ids: stored.answerIds() ?? null }
              : {}),
          };
    // Its refusals once it made any: a route that never refused reads as it did before they were counted.
    const refused = runtime.metrics.refusals(route.name);
    routes[route.name] = {
      upstream: route.upstream ?? null,
      maintenance: { active, source },
      cache,
      ...(Object.keys(refused).length === 0 ? {} : { refused }),
    };
  }
  return {
    config_hash: configHash,
    draining,
    upstreams,
    routes,
    store: shared.store?.status() ?? null,
    ...(shared.certificates === undefined ? {} : { certificates: shared.certificates }),
    auth_hops: authHopsStatus(runtime, now),
    plugins: pluginsStatus(runtime),
    session_stores: runtime.access.sessionStores(),
  };
}

/**
 * Each auth hop by its name, as Proxy-Status names it. A forward-auth service and a JWKS endpoint
 * on one host are one hop (`auth:HOST`): one row, the service's kind, upstream and circuit
 * (authHops() lists forward hops first), the counts of both, the latest failure of either.
 */
function authHopsStatus(runtime: LiveRuntime, now: number): Record<string, AuthHopStatus> {
  const hops: Record<string, AuthHopStatus> = {};
  for (const { health, upstream, circuit } of runtime.access.authHops()) {
    const state = circuit?.stateAt(now);
    const last = health.lastFailure;
    const seen = hops[health.name];
    if (seen !== undefined) {
      const counts = seen.counts;
      hops[health.name] = {
        ...seen,
        counts: {
          allowed: counts.allowed + health.counts.allowed,
          denied: counts.denied + health.counts.denied,
          fetched: counts.fetched + health.counts.fetched,
          failed: counts.failed + health.counts.failed,
        },
        last_failure:
          last === undefined || (seen.last_failure !== null && seen.last_failure.at >= wallClock(last.at))
            ? seen.last_failure
            : { type: last.type, details: last.details, at: wallClock(last.at) },
      };
      continue;
    }
    hops[health.name] = {
      kind: health.kind,
      upstream: upstream?.name ?? null,
      circuit:
        circuit === undefined || state === undefined
          ? null
          : { state, open_until: state === 'open' ? wallClock(circuit.openUntil) : null },
      counts: { ...health.counts },
      last_failure:
        last === undefined ? null : { type: last.type, details: last.details, at: wallClock(last.at) },
    };
  }
  return hops;
}

/**
 * Whether a request to the upstream now is picked in panic, as its log line would say: the
 * health checks ignored (below panic_threshold), or every target the checks let through ejected
 * and the requests sent to the ejected ones anyway (the balancer's fallback, balancer.ts). The
 * second read only the first, so every target ejected read `panic: false` beside log lines of
 * `"panic":true`.
 */
function pickedInPanic(upstream: Upstream, now: number): boolean {
  const { panic, targets } = upstream;
  const probes = upstream.config.circuitBreaker.halfOpenRequests;
  // In panic, but no target a request could go to: none its probe could reach (target-state.ts),
  // so the requests are answered 503, not sent to targets failing their checks.
  if (panic.active)
    return targets.some((t) => isAvailable(t, now, probes, true) || isOnlyEjected(t, now, true));
  if (panic.threshold === 0) return false;
  return !targets.some((t) => isAvailable(t, now, probes)) && targets.some((t) => isOnlyEjected(t, now));
}

function upstreamStatus(
  upstream: Upstream,
  now: number,
  report: DiscoveryReport | undefined,
): UpstreamStatus {
  const discovery = upstream.config.discovery;
  const checked = upstream.config.healthCheck !== undefined;
  // The state as of this read: a circuit whose open time passed is half-open, request or not.
  const state = upstream.circuit.stateAt(now);
  return {
    circuit: {
      state,
      open_until: state === 'open' ? wallClock(upstream.circuit.openUntil) : null,
    },
    panic: pickedInPanic(upstream, now),
    in_flight: upstream.inFlight.count,
    pending: upstream.pending.count,
    retry_budget: {
      tokens: Math.round(upstream.retryBudget.tokens * 100) / 100,
      retries_in_flight: upstream.retryBudget.inFlight,
    },
    targets: upstream.targets.map((target) => {
      const probe = target.lastProbe;
      const ejected = target.isEjected(now);
      return {
        url: target.config.url,
        origin: target.config.origin,
        weight: target.weight,
        config_weight: target.config.weight,
        priority: target.config.priority,
        admin: target.admin,
        health: !checked ? 'unchecked' : target.checkedHealthy ? 'healthy' : 'unhealthy',
        last_check:
          probe === undefined
            ? null
            : {
                ok: probe.ok,
                at: wallClock(probe.at),
                ms: Math.round(probe.ms * 10) / 10,
                status: probe.status ?? null,
                failure: probe.failure?.type ?? null,
              },
        circuit: {
          state: target.ejectionState(now),
          open_until: ejected ? wallClock(target.ejectedUntil) : null,
        },
        ejected,
        ejected_until: ejected ? wallClock(target.ejectedUntil) : null,
        ejections: target.ejections,
        in_flight: target.active.count,
        last_failure:
          target.lastFailure === undefined
            ? null
            : { type: target.lastFailure.type, at: wallClock(target.lastFailure.at) },
        pool: target.pool.stats(),
      };
    }),
    discovery:
      discovery === undefined
        ? null
        : {
            dns: discovery.dns,
            type: discovery.type,
            targets: (report?.targets ?? []).map((t) => t.url),
            changed_at: report?.changed_at ?? null,
            resolved_at: report?.resolved_at ?? null,
            failure: report?.failure ?? null,
          },
  };
}
