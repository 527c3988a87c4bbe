import type { RefusalCounts } from '../../observe/metrics/metrics.ts';
import type { SessionStoreStatus } from '../../proxy/admit/oidc/session-store.ts';
import type { CertificateStatus } from '../acme/acme-manager.ts';
import type {
  AuthHopStatus,
  GatewayStatus,
  PluginStatus,
  RouteCacheStatus,
  TargetStatus,
  UpstreamStatus,
} from '../gateway/status.ts';
import type { WorkerRestarting } from './workers.ts';

/**
 * One view of the gateway from every worker's status. Each worker keeps its own targets'
 * state (checks, ejections, circuits and budgets run per worker), so the merge says how:
 * counts (in flight, pending, pool connections, retry tokens) are summed; a state the
 * workers may disagree on is the worst one (circuit open over half-open over closed, any
 * worker in panic or ejecting), with `workers_ejecting` and the latest `ejected_until`;
 * health is the common verdict, or "mixed"; the latest check and failure win; a route's
 * cache's stale answers are summed, and its stored answers too where each worker has its own,
 * each counted once where the workers share one (mergeCaches). The admin
 * state and weights are set in every worker by the primary, so they agree.
 */
export interface MergedStatus {
  readonly workers: {
    readonly id: number;
    readonly pid: number | null;
    readonly answered: boolean;
    readonly config_hash: string | null;
    readonly draining: boolean | null;
  }[];
  readonly upstreams: Record<string, MergedUpstream>;
  readonly routes: GatewayStatus['routes'];
  /** The rate-limit store: each worker has its own connection; the worst state shows, with how many are up. */
  readonly store: MergedStore | null;
  /** Each certificate the primary orders by ACME; absent: none ordered. */
  readonly certificates?: readonly CertificateStatus[];
  /** Each auth hop: counts summed, the worst circuit, the latest failure. */
  readonly auth_hops: Record<string, AuthHopStatus>;
  /** Each plugin's counts, summed over the workers. */
  readonly plugins: Record<string, PluginStatus>;
  /** Each OIDC session store (by address and prefix): as the rate-limit store, the worst state, with how many are up. */
  readonly session_stores: readonly MergedSessionStore[] /**
   * Replacements of workers that died, waiting out the restart backoff (a crash loop): the
   * primary's, not the workers'. Empty when none waits.
   */;
  readonly workers_restarting?: readonly WorkerRestarting[];
}

export type MergedStore = NonNullable<GatewayStatus['store']> & { readonly workers_up: number };

export type MergedSessionStore = SessionStoreStatus & { readonly workers_up: number };

const STORE_ORDER = { up: 0, connecting: 1, down: 2 } as const;

export type MergedUpstream = Omit<UpstreamStatus, 'targets'> & { readonly targets: MergedTarget[] };

type MergedTarget = Omit<TargetStatus, 'health'> & {
  readonly health: TargetStatus['health'] | 'mixed';
  readonly workers_ejecting: number;
};

const CIRCUIT_ORDER = { closed: 0, half_open: 1, open: 2 } as const;

export function mergeStatuses(
  answers: readonly { worker: number; pid: number | undefined; status: GatewayStatus | undefined }[],
): MergedStatus {
  const statuses = answers.flatMap((a) => (a.status ? [a.status] : []));
  const upstreams: Record<string, MergedUpstream> = {};
  const hops: Record<string, AuthHopStatus> = {};
  for (const status of statuses)
    for (const [name, hop] of Object.entries(status.auth_hops ?? {}))
      hops[name] = hops[name] === undefined ? hop : mergeHop(hops[name], hop);
  for (const status of statuses) {
    for (const [name, upstream] of Object.entries(status.upstreams)) {
      const seen = upstreams[name];
      upstreams[name] = seen === undefined ? fromOne(upstream) : mergeUpstream(seen, upstream);
    }
  }
  const plugins: Record<string, PluginStatus> = {};
  for (const status of statuses)
    for (const [name, p] of Object.entries(status.plugins ?? {})) {
      const seen = plugins[name] ?? { calls: 0, failures: 0, overruns: 0, seconds: 0, uncaught: 0 };
      plugins[name] = {
        calls: seen.calls + p.calls,
        failures: seen.failures + p.failures,
        overruns: seen.overruns + p.overruns,
        seconds: seen.seconds + p.seconds,
        uncaught: (seen.uncaught ?? 0) + (p.uncaught ?? 0),
      };
    }
  return {
    workers: answers.map((a) => ({
      id: a.worker,
      pid: a.pid ?? null,
      answered: a.status !== undefined,
      config_hash: a.status?.config_hash ?? null,
      draining: a.status?.draining ?? null,
    })),
    upstreams,
    routes: mergeRoutes(statuses),
    store: mergeStores(statuses.flatMap((s) => (s.store ? [s.store] : []))),
    auth_hops: hops,
    plugins,
    session_stores: mergeSessionStores(statuses.flatMap((s) => s.session_stores ?? [])),
  };
}

/** Each worker's connection to one store (its address and prefix) is one row, as mergeStores makes the rate limit's. */
function mergeSessionStores(stores: readonly SessionStoreStatus[]): MergedSessionStore[] {
  const byStore = new Map<string, SessionStoreStatus[]>();
  for (const store of stores) {
    const key = `${store.prefix} ${store.address}`;
    byStore.set(key, [...(byStore.get(key) ?? []), store]);
  }
  return [...byStore.values()].map((same) => ({ ...worstOf(same), workers_up: upCount(same) }));
}

/** The routes as the first worker says (the config is one), each cache's figures and refusals summed over the workers. */
function mergeRoutes(statuses: readonly GatewayStatus[]): GatewayStatus['routes'] {
  const routes: Record<string, GatewayStatus['routes'][string]> = { ...statuses[0]?.routes };
  for (const [name, route] of Object.entries(routes)) {
    const refused: Record<string, RefusalCounts> = {};
    const caches: RouteCacheStatus[] = [];
    for (const status of statuses) {
      for (const [method, counts] of Object.entries(status.routes[name]?.refused ?? {})) {
        const sum = refused[method] ?? { '401': 0, '403': 0 };
        refused[method] = { '401': sum['401'] + counts['401'], '403': sum['403'] + counts['403'] };
      }
      const cache = status.routes[name]?.cache;
      if (cache !== null && cache !== undefined) caches.push(cache);
    }
    const cache = route.cache === null || route.cache === undefined ? null : mergeCaches(caches);
    const { refused: _own, ...rest } = route;
    routes[name] = { ...rest, cache, ...(Object.keys(refused).length === 0 ? {} : { refused }) };
  }
  return routes;
}

/**
 * A route's cache over the workers: its stale answers summed. Its stored answers are summed where
 * each worker's cache is its own (`workers_share: false`); where the workers share one (each
 * worker's copies in memory of the answers in the shared folder) each answer counts once, by its
 * id, and past the most a worker lists, the largest worker's count is the fewest it can be.
 */
function mergeCaches(caches: readonly RouteCacheStatus[]): RouteCacheStatus {
  const stale: Record<string, number> = {};
  for (const cache of caches)
    for (const [cause, n] of Object.entries(cache.stale)) stale[cause] = (stale[cause] ?? 0) + n;
  const shared = caches.length > 0 && caches.every((c) => c.ids !== undefined);
  if (!shared) {
    const sum = (of: (c: RouteCacheStatus) => number) => caches.reduce((n, c) => n + of(c), 0);
    return { entries: sum((c) => c.entries), bytes: sum((c) => c.bytes), stale };
  }
  if (caches.some((c) => c.ids === null)) {
    const most = (of: (c: RouteCacheStatus) => number) => Math.max(...caches.map(of));
    return { entries: most((c) => c.entries), bytes: most((c) => c.bytes), stale };
  }
  const ids: Record<string, number> = {};
  for (const cache of caches) Object.assign(ids, cache.ids);
  const sizes = Object.values(ids);
  return { entries: sizes.length, bytes: sizes.reduce((n, size) => n + size, 0), stale };
}

function mergeHop(a: AuthHopStatus, b: AuthHopStatus): AuthHopStatus {
  const circuit =
    a.circuit === null || b.circuit === null
      ? (a.circuit ?? b.circuit)
      : CIRCUIT_ORDER[b.circuit.state] > CIRCUIT_ORDER[a.circuit.state]
        ? b.circuit
        : { state: a.circuit.state, open_until: later(a.circuit.open_until, b.circuit.open_until) };
  return {
    ...a,
    circuit,
    counts: {
      allowed: a.counts.allowed + b.counts.allowed,
      denied: a.counts.denied + b.counts.denied,
      fetched: a.counts.fetched + b.counts.fetched,
      failed: a.counts.failed + b.counts.failed,
    },
    last_failure: latest(a.last_failure, b.last_failure),
  };
}

function mergeStores(stores: readonly NonNullable<GatewayStatus['store']>[]): MergedStore | null {
  return stores.length === 0 ? null : { ...worstOf(stores), workers_up: upCount(stores) };
}

/** The worst state of one store's connections (down over connecting over up). */
const worstOf = <T extends { readonly state: keyof typeof STORE_ORDER }>(stores: readonly T[]): T =>
  stores.reduce((a, b) => (STORE_ORDER[b.state] > STORE_ORDER[a.state] ? b : a));

const upCount = (stores: readonly { readonly state: string }[]): number =>
  stores.filter((s) => s.state === 'up').length;

function fromOne(upstream: UpstreamStatus): MergedUpstream {
  return { ...upstream, targets: upstream.targets.map(oneTarget) };
}

const oneTarget = (t: TargetStatus): MergedTarget => ({ ...t, workers_ejecting: t.ejected ? 1 : 0 });

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);
const latest = <T extends { at: string } | null>(a: T, b: T): T =>
  a === null ? b : b === null ? a : a.at >= b.at ? a : b;

/** The worse of two workers' circuits (open over half-open over closed), the later end at a tie. */
function worstCircuit(a: UpstreamStatus['circuit'], b: UpstreamStatus['circuit']): UpstreamStatus['circuit'] {
  return CIRCUIT_ORDER[b.state] > CIRCUIT_ORDER[a.state]
    ? b
    : { state: a.state, open_until: later(a.open_until, b.open_until) };
}

function mergeUpstream(a: MergedUpstream, b: UpstreamStatus): MergedUpstream {
  return {
    circuit: worstCircuit(a.circuit, b.circuit),
    panic: a.panic || b.panic,
    in_flight: a.in_flight + b.in_flight,
    pending: a.pending + b.pending,
    retry_budget: {
      tokens: Math.round((a.retry_budget.tokens + b.retry_budget.tokens) * 100) / 100,
      retries_in_flight: a.retry_budget.retries_in_flight + b.retry_budget.retries_in_flight,
    },
    // A target one worker has and another not yet (a discovery answer reaching the workers one
    // after the other; a reload under way) is listed all the same, with what that worker says.
    targets: [
      ...a.targets.map((t) => {
        const other = b.targets.find((o) => o.url === t.url);
        return other === undefined ? t : mergeTarget(t, other);
      }),
      ...b.targets.filter((o) => !a.targets.some((t) => t.url === o.url)).map(oneTarget),
    ],
    // Every worker has the primary's answers: the latest one seen wins.
    discovery:
      a.discovery === null || b.discovery === null
        ? (a.discovery ?? b.discovery)
        : (b.discovery.resolved_at ?? '') > (a.discovery.resolved_at ?? '')
          ? b.discovery
          : a.discovery,
  };
}

function mergeTarget(a: MergedTarget, b: TargetStatus): MergedTarget {
  return {
    ...a,
    health: a.health === b.health ? a.health : 'mixed',
    last_check: latest(a.last_check, b.last_check),
    circuit: worstCircuit(a.circuit, b.circuit),
    ejected: a.ejected || b.ejected,
    ejected_until: later(a.ejected_until, b.ejected_until),
    ejections: Math.max(a.ejections, b.ejections),
    workers_ejecting: a.workers_ejecting + (b.ejected ? 1 : 0),
    in_flight: a.in_flight + b.in_flight,
    last_failure: latest(a.last_failure, b.last_failure),
    pool: {
      open: a.pool.open + b.pool.open,
      idle: a.pool.idle + b.pool.idle,
      waiting: a.pool.waiting + b.pool.waiting,
    },
  };
}
