import type { GatewayConfig } from '../../core/config/types.ts';
import { Count } from '../../core/limits/count.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import { createTrustList, type TrustList } from '../../core/net/trust.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { reportEverySecond } from '../../observe/log/report-every-second.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { Tracing } from '../../observe/tracing/spans.ts';
import type { AcmeChallenges } from '../../proxy/accept/acme-challenge.ts';
import { Access } from '../../proxy/admit/access.ts';
import { Admission } from '../../proxy/admit/admission.ts';
import { earlyDropLines } from '../../proxy/admit/gateway-rate-limits.ts';
import type { RedisRates } from '../../proxy/admit/redis-rates.ts';
import type { AnswerCache } from '../../proxy/cache/answer-cache.ts';
import type { CacheNews } from '../../proxy/cache/invalidation.ts';
import { releaseReplaced, routeCaches } from '../../proxy/cache/route-caches.ts';
import { ReaderMemory } from '../../proxy/forward/reader-memory.ts';
import { SpoolSpace } from '../../proxy/forward/spool-space.ts';
import { createRouter, type Router } from '../../proxy/route/router.ts';
import { canarySides, RouteSplit } from '../../proxy/select/split.ts';
import { askAuthService } from '../../proxy/session/auth-call.ts';
import { RequestSession } from '../../proxy/session/request-session.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import type { StageListener } from '../../proxy/stages/stage.ts';
import { CanaryWindow, GatewayWindow } from '../../upstream/canary/canary-window.ts';
import {
  type ActiveChecks,
  applyVerdict,
  type HealthMetrics,
  startActiveChecks,
} from '../../upstream/health/active-checks.ts';
import { resumeEjections } from '../../upstream/health/outlier.ts';
import { applyAnnouncement } from '../../upstream/health/report-outcome.ts';
import {
  connectorOf,
  createUpstream,
  type StrayBytes,
  type Upstream,
  type UpstreamNews,
} from '../../upstream/targets/upstream.ts';
import type { Announcement, ClusterLink, ReturnNews } from './cluster-link.ts';
import type { RuntimeChanges } from './runtime-changes.ts';
import {
  buildRouteStages,
  type CacheFacts,
  candorStages,
  closingStages,
  type GivenStages,
} from './stage-builders.ts';

/** A runtime as the gateway holds it: the request-facing snapshot plus what a reload hands on. */
export interface LiveRuntime extends Runtime {
  /** The stored answers of each route with a cache, by route name (kept across reloads: route-caches.ts); its stage holds them too. */
  readonly caches: ReadonlyMap<string, AnswerCache>;
  /**
   * The split of each route that has one (or a canary), by route name: its weights change at run
   * time (an admin change, the canary controller, which reads its windows here); its split stage
   * and the route caches' stages hold it too (stage-builders.ts).
   */
  readonly splits: ReadonlyMap<string, RouteSplit>;
  /** As Runtime's, and of the stored answers an unsafe request invalidated, so no other worker gives them again. */
  readonly announce?: (news: Announcement | ReturnNews | CacheNews) => void;
  /** Every attempt's outcome, whatever its route, for a fleet's config canary (taken by the worker channel): it outlives a reload. */
  readonly gatewayCounts: GatewayWindow;
  /** Each upstream's running health checks, by upstream name: a reload updates them in place. */
  readonly checks: ReadonlyMap<string, ActiveChecks>;
  readonly admission: Admission;
  /** IP lists, CORS and authentication, per route (their stages hold them: stage-builders.ts), and the auth hops they share. */
  readonly access: Access;
  /** Tells of upstream connections closed for stray bytes (at most a line a second), and of idle closes learned: kept across reloads, as the pools are. */
  readonly upstreamNews: UpstreamNews;
  /** The `warn` lines of rate-limit buckets dropped early for their memory bound, kept across reloads (one a second at most). */
  readonly earlyDrops: (route: string, dropped: number, maxKeys: number) => void;
  /** The gateway's overflow is the spool's disk: a reload's space counts on the previous one's bytes. */
  readonly spool: SpoolSpace;
}

/**
 * Makes a config snapshot live: its router, upstream pools with their health checks, trust
 * list and admit policies. With `previous` (a reload), every upstream still named is rebuilt
 * on the old one's state (see createUpstream: targets matched by origin keep pools, health,
 * ejection; the upstream keeps its circuit and retry budget), its health checks carry on,
 * and upstreams no longer named stop their checks and retire their pools. The previous
 * runtime stays usable for the requests that hold it.
 *
 * With a cluster `link`, the health checks are the primary's (one set per gateway): no
 * probe runs here, and every target starts on the primary's latest verdict. With a `store`,
 * rate limits are decided in Redis (the gateway owns the connection: it outlives snapshots).
 */
export function createRuntime(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  tracing: Tracing | undefined,
  changes: RuntimeChanges,
  previous?: LiveRuntime,
  link?: ClusterLink,
  store?: RedisRates,
  acme?: AcmeChallenges,
  /** What the health checks count into, when not `metrics` alone (in-process, the timeline hears each transition). */
  healthCounts: HealthMetrics = metrics,
  /** Stages the program gives a route, after Candor's own (GatewayOptions.stages). */
  given?: GivenStages,
): LiveRuntime {
  const upstreamNews = previous?.upstreamNews ?? upstreamNewsLines(logger);
  const earlyDrops = previous?.earlyDrops ?? earlyDropLines(logger);
  const upstreams = liveUpstreams(config, changes, upstreamNews, previous, link);
  // The runtime the auth hops' calls run on: this one, made below (a call comes only with a request).
  let runtime: LiveRuntime | undefined;
  const trust = createTrustList(config.trustForwardedFrom);
  const sessionCookies = config.routes.flatMap((route) => route.access?.auth?.oidc?.cookieName ?? []);
  const access = routeAccess(config, logger, upstreams, trust, previous, () => runtime as LiveRuntime, link);
  const splits = routeSplits(config, changes, previous?.splits);
  const caches = routeCaches(config.routes, previous?.caches, {
    writeFailed: (err, dir, route) => logger.warn({ route, dir, details: err.message }, 'cache write failed'),
    notUsed: (file, why, route) => logger.warn({ route, file, details: why }, 'cache file not used'),
    counted: (kind, route) => metrics.cacheDiskFailure(route, kind),
  });
  const router = createRouter(config.routes);
  // A stored answer's refresh runs as a request of its own, on this runtime and the listener of the request it refreshes for.
  const background = (listener: StageListener, exchange: DownstreamExchange) =>
    RequestSession.request(runtime as LiveRuntime, listener, exchange);
  const keepRuntime = () => (runtime as LiveRuntime).requests.acquire();
  const cacheFacts = cacheFactsOf(config, router, metrics, splits, { background, keepRuntime }, link);
  const stages = buildRouteStages(
    config,
    logger,
    metrics,
    candorStages(trust, access, splits, sessionCookies),
    given,
    closingStages(caches, cacheFacts),
  );
  // What the previous runtime runs is changed only now, once nothing above can throw (a reload
  // refused then leaves it as it was): its checks carried on or stopped, its dropped upstreams retired.
  // In a cluster the checks are the primary's: the verdicts were taken instead.
  const checks = link
    ? new Map<string, ActiveChecks>()
    : runChecks(upstreams, previous, logger, healthCounts);
  if (previous) {
    retireRemoved(previous, upstreams);
    releaseReplaced(previous.caches, caches);
  }
  runtime = {
    config,
    name: config.name,
    router,
    stages,
    splits,
    gatewayCounts: previous?.gatewayCounts ?? new GatewayWindow(),
    upstreams,
    caches,
    spool: spoolSpace(config, logger, metrics, previous),
    readerMemory: new ReaderMemory(config.limits.bufferTotal, previous?.readerMemory),
    checks,
    upstreamNews,
    earlyDrops,
    trust,
    access,
    admission: admissionOf(config, changes, previous, link, store, earlyDrops),
    logger,
    metrics,
    tracing,
    via10: `1.0 ${config.name}`,
    via11: `1.1 ${config.name}`,
    via2: `2 ${config.name}`,
    lastLogged: undefined,
    requests: new Count(),
    ...(link
      ? {
          announce: (news: Announcement | ReturnNews | CacheNews) => {
            if (stillTheGateways(news, runtime, link.current())) link.announce(news);
          },
        }
      : {}),
    ...(acme ? { acme } : {}),
    async close() {
      await Promise.all([...checks.values()].map((c) => c.stop()));
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await access.close();
    },
  };
  return runtime;
}

/** Every route's access rules (access.ts); `runtime`: the one the auth hops' calls run on. */
function routeAccess(
  config: GatewayConfig,
  logger: Logger,
  upstreams: ReadonlyMap<string, Upstream>,
  trust: TrustList,
  previous: LiveRuntime | undefined,
  runtime: () => LiveRuntime,
  link: ClusterLink | undefined,
): Access {
  return new Access(
    config.routes,
    logger,
    // Metrics, log and the other workers hear of an auth hop's attempts as of any upstream's.
    {
      upstreams,
      ask: (upstream, call) => askAuthService(runtime(), upstream, call),
      exposeAddresses: config.errors.exposeUpstreamAddress,
      ...(link === undefined ? {} : { renewals: link }),
    },
    trust,
    previous?.access,
  );
}

function spoolSpace(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  previous: LiveRuntime | undefined,
): SpoolSpace {
  return new SpoolSpace(
    config.limits.spool,
    config.limits.spoolDir,
    {
      writeFailed: (err, dir) => logger.warn({ dir, details: err.message }, 'spool write failed'),
      spooled: (route, bytes) => metrics.spooled(route, bytes),
    },
    previous?.spool,
  );
}

/** A cluster worker's targets start on the primary's latest verdicts (its checks are the primary's). */
function takeVerdicts(upstreams: ReadonlyMap<string, Upstream>, link: ClusterLink): void {
  const now = performance.now();
  for (const upstream of upstreams.values()) {
    for (const target of upstream.targets) {
      const verdict = link.verdict(upstream.name, target.config.origin);
      if (verdict) applyVerdict(upstream, target, verdict, now, undefined);
    }
    // Read against this snapshot's targets and threshold, not only when a verdict changes (the primary logs it).
    upstream.panic.update(upstream.targets, now);
  }
}

/**
 * Whether a snapshot's news of a circuit or an ejection is still the gateway's: a request of an
 * older snapshot (in flight across a reload) judges that snapshot's circuit and targets, and
 * when the reload replaced them (every target new, another protocol, the upstream or target
 * gone) no request of now meets them. Told to the other workers, a straggler's failures opened
 * their fresh circuit, or ejected their new target, for the new snapshot's requests.
 */
function stillTheGateways(
  news: Announcement | ReturnNews | CacheNews,
  mine: LiveRuntime | undefined,
  current: { readonly upstreams: ReadonlyMap<string, Upstream> } | undefined,
): boolean {
  if (news.candor !== 'ejected' && news.candor !== 'circuit-opened' && news.candor !== 'circuit-closed')
    return true;
  if (mine === undefined || current === undefined || current === mine) return true;
  const [was, is] = [mine.upstreams.get(news.upstream), current.upstreams.get(news.upstream)];
  if (was === undefined || is === undefined) return false;
  if (news.candor !== 'ejected') return was.circuit === is.circuit;
  const target = was.targets.find((t) => t.config.origin === news.origin);
  return target !== undefined && is.targets.includes(target);
}

/** A cluster worker's first runtime takes the circuits open and the targets ejected by the others, for the time left. */
function takeBreakers(upstreams: ReadonlyMap<string, Upstream>, link: ClusterLink): void {
  const now = performance.now();
  for (const news of link.startBreakers(now)) {
    const upstream = upstreams.get(news.upstream);
    if (upstream !== undefined) applyAnnouncement(upstream, news, now);
  }
}

/** In-process, each upstream's health checks: the previous runtime's carry on, updated; new ones start. */
function runChecks(
  upstreams: ReadonlyMap<string, Upstream>,
  previous: LiveRuntime | undefined,
  logger: Logger,
  healthCounts: HealthMetrics,
): Map<string, ActiveChecks> {
  const checks = new Map<string, ActiveChecks>();
  for (const [name, upstream] of upstreams) {
    const running = previous?.checks.get(name);
    running?.update(upstream);
    checks.set(name, running ?? startActiveChecks(upstream, logger, healthCounts));
  }
  return checks;
}

/** The upstreams a reload no longer names: their checks stop, their pools retire. */
function retireRemoved(previous: LiveRuntime, upstreams: ReadonlyMap<string, Upstream>): void {
  for (const [name, old] of previous.upstreams) {
    if (upstreams.has(name)) continue;
    void previous.checks.get(name)?.stop();
    for (const target of old.targets) target.pool.retire();
    // Its held requests would wait out hold.timeout for targets no check looks at, and a drain,
    // which answers the held requests of the upstreams of now, would not find them: answered now.
    old.hold.drain('removed');
  }
}

/**
 * Each route's split with the weights in force (the config's, or a runtime change's). A canary
 * route starts with the canary at 0 %: its controller moves it. A canary's counts carry over a
 * reload that keeps the same baseline and canary (the window in progress is not lost).
 */
export function routeSplits(
  config: GatewayConfig,
  changes: RuntimeChanges,
  previous: ReadonlyMap<string, RouteSplit> | undefined,
): Map<string, RouteSplit> {
  const splits = new Map<string, RouteSplit>();
  for (const route of config.routes) {
    let split: RouteSplit | undefined;
    if (route.split !== undefined) split = new RouteSplit(route.split, route.hashKey);
    else if (route.canary !== undefined && route.upstream !== undefined) {
      const old = previous?.get(route.name)?.window;
      const window =
        old !== undefined && old.baseline === route.upstream && old.canary === route.canary.upstream
          ? old
          : new CanaryWindow(route.upstream, route.canary.upstream);
      split = new RouteSplit(canarySides(route.upstream, route.canary.upstream, 0), route.hashKey, window);
    }
    if (split === undefined) continue;
    const set = changes.split(route.name);
    if (set !== undefined) split.set(set);
    splits.set(route.name, split);
  }
  return splits;
}

/**
 * The log line for an upstream connection closed for bytes its target sent past a complete
 * response (a second status line, garbage after Content-Length): the client's answer was whole
 * and right, so its own line says nothing, and this is the only trace of why the connection was
 * not reused. The first of a quiet spell at once, then at most one a second with how many since.
 */
function upstreamNewsLines(logger: Logger): UpstreamNews {
  return {
    strayBytes: reportEverySecond((last: StrayBytes, count) =>
      logger.warn(
        { upstream: last.upstream, target: last.target, bytes: last.bytes, connections: count },
        'upstream sent bytes past its response: connection closed, not reused',
      ),
    ),
    idleCloseLearned: ({ upstream, target, idleMs, limitMs }) =>
      logger.warn(
        { upstream, target, idle_close_ms: Math.round(idleMs), kept_ms: Math.round(limitMs) },
        `upstream closes idle connections after about ${Math.round(idleMs)} ms without saying so (no Keep-Alive: timeout): idle connections to it are kept ${Math.round(limitMs)} ms at most for the next 5 minutes; set pool.idle_timeout below its own`,
      ),
  };
}

/**
 * The config's upstreams made live, each on the previous one of its name (a reload), the runtime
 * changes applied (in a cluster, the primary's verdicts taken). Every upstream's files are read
 * first: one that fails (gone since the config was checked) refuses the reload before any
 * upstream of the running runtime is changed (the targets it keeps take new settings).
 */
function liveUpstreams(
  config: GatewayConfig,
  changes: RuntimeChanges,
  news: UpstreamNews,
  previous: LiveRuntime | undefined,
  link: ClusterLink | undefined,
): Map<string, Upstream> {
  const connectors = new Map(Object.entries(config.upstreams).map(([name, u]) => [name, connectorOf(u)]));
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams))
    upstreams.set(name, createUpstream(upstream, previous?.upstreams.get(name), news, connectors.get(name)));
  // A target a DNS answer names again before the ejection it left with ends resumes it.
  for (const upstream of upstreams.values()) resumeEjections(upstream, performance.now());
  changes.applyTo(upstreams.values());
  if (link) takeVerdicts(upstreams, link);
  // A worker's first runtime starts on the circuits open and targets ejected elsewhere (a restart after a crash).
  if (link && previous === undefined) takeBreakers(upstreams, link);
  return upstreams;
}

/** What the cache's stages of this config are given: its names, its splits, the cluster's news, the refresh's start. */
function cacheFactsOf(
  config: GatewayConfig,
  router: Router,
  metrics: GatewayMetrics,
  splits: LiveRuntime['splits'],
  { background, keepRuntime }: Pick<CacheFacts, 'background' | 'keepRuntime'>,
  link: ClusterLink | undefined,
): CacheFacts {
  return {
    name: config.name,
    router,
    paths: config.paths,
    metrics,
    minimalErrors: config.errors.detail === 'minimal',
    splits,
    announce: link ? (news: CacheNews) => link.announce(news) : undefined,
    background,
    keepRuntime,
  };
}

/** The admit policies of this config (maintenance, rate limits, shedding), their counts carried over a reload. */
function admissionOf(
  config: GatewayConfig,
  changes: RuntimeChanges,
  previous: LiveRuntime | undefined,
  link: ClusterLink | undefined,
  store: RedisRates | undefined,
  earlyDrops: (route: string, dropped: number, maxKeys: number) => void,
): Admission {
  const maintenance = (route: string) => changes.maintenance(route);
  return new Admission(
    config.routes,
    maintenance,
    previous?.admission,
    link,
    store,
    config.limits.perClient,
    earlyDrops,
  );
}
