import { ConfigError } from '../../core/config/config-error.ts';
import { configHash } from '../../core/config/config-hash.ts';
import { keepFieldLines, keptFieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { Timeline } from '../../observe/events/timeline.ts';
import { createLogger, LINE_SINK, type Logger } from '../../observe/log/logger.ts';
import { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { MetricsListener } from '../../observe/metrics/metrics-listener.ts';
import { type Listener, type OrderedCertificateSource, startListener } from '../../proxy/accept/listener.ts';
import { loadOidc } from '../../proxy/admit/access.ts';
import type { RedisRates } from '../../proxy/admit/redis-rates.ts';
import type { PurgeTally } from '../../proxy/cache/purge-tally.ts';
import type { PurgeScope } from '../../proxy/cache/route-caches.ts';
import { clearSpoolDir } from '../../proxy/forward/spool-space.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import { Discoveries, withDiscovered } from '../../upstream/discovery/discoveries.ts';
import type { DiscoveryOutcome, DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import { tellingTransitions } from '../../upstream/health/transitions.ts';
import {
  acmeNames,
  createAutomaticHttps,
  loadAutomaticHttps,
  replaceHttps,
} from '../acme/automatic-https.ts';
import type { Canaries } from '../canary/canaries.ts';
import type { CanaryStatus } from '../canary/canary-controller.ts';
import type { OperatorWord } from '../canary/operator-actions.ts';
import type { ClusterLink } from './cluster-link.ts';
import { Drain } from './drain.ts';
import { createHostCheck } from './host-check.ts';
import { listenerHandlers } from './listener-handlers.ts';
import { type GivenPlugin, loadPlugins } from './plugins.ts';
import { logListening, openAdded, swapListeners } from './reload-listeners.ts';
import { type ReloadOutcome, reloadOutcome } from './reload-outcome.ts';
import { planListeners, reloadChanges, targetMoves, unchangeableProblems } from './reload-plan.ts';
import { createRuntime } from './runtime.ts';
import { type RuntimeChange, RuntimeChanges, timelineChange, weightProblem } from './runtime-changes.ts';
import type { GivenStages } from './stage-builders.ts';
import { type GatewayStatus, gatewayStatus } from './status.ts';
import { followLink } from './worker-news.ts';
import { splitLimits } from './worker-share.ts';

export interface Gateway {
  /** The listeners open now (a reload adds and removes some). */
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /**
   * This process's deploy timeline (GET /events merges every worker's with the primary's). In
   * a cluster the primary records the reloads, admin changes, DNS answers and health checks it
   * makes; a gateway run in-process records its own. A canary controller records its steps here.
   */
  readonly timeline: Timeline;
  /** The port GET /metrics is served on (config `metrics.listen`), when this process serves it. */
  metricsPort(): number | undefined;
  /** The live config snapshot. */
  runtime(): Runtime;
  /** The hash of the running config (config-hash.ts). */
  configHash(): string;
  /** True from the moment a drain begins: readiness answers 503 so load balancers stop sending. */
  readonly draining: boolean;
  /**
   * SIGTERM's drain (drain.ts): not ready, `drain.delay`, stop accepting, cut what is still
   * open at `drain.timeout`; then the upstream pools close and the log is flushed.
   */
  drain(): Promise<void>;
  /** A second SIGTERM or SIGINT: the drain (started if it was not) cuts every connection now. */
  drainNow(): Promise<void>;
  /** The admin API's changes in force (kept across reloads while their target or route remains). */
  readonly changes: RuntimeChanges;
  /**
   * Swaps in a new snapshot of an already validated config (see createRuntime for what is
   * kept). Throws a ConfigError, changing nothing, when the config changes what a live socket
   * cannot (reload-plan.ts) or a new listener cannot open; a GatewayDraining once a drain began.
   */
  reload(config: GatewayConfig): Promise<ReloadOutcome>;
  /** Applies a runtime change that RuntimeChanges.check accepted for the running config. */
  apply(change: RuntimeChange): void;
  /**
   * The canaries this gateway judges (`routes[].canary`), as the admin API's `GET /canary` shows
   * them: phase, share, step, the last window's figures, the latest actions. A cluster worker
   * judges none (its primary does): there it is empty.
   */
  canaries(): CanaryStatus[];
  /**
   * An operator's action on a route's canary, as the admin API's `POST /canary/ACTION`: `start`
   * (on from the step it paused at, else from the first), `pause` (the share stays), `rollback`
   * (or `abort`, its other name: its share to 0 at once), `promote` (it takes every request). Logged and put on the
   * timeline with `who` (default "program"). Resolves to the canary's state, or to the problem
   * (no canary on that route, an action that does not apply now).
   */
  canary(
    route: string,
    action: OperatorWord,
    who?: string,
  ): Promise<{ problem: string } | { status: CanaryStatus }>;
  status(): GatewayStatus;
  /**
   * Drops stored answers from the routes' caches (all, one route's, or its keys under a prefix);
   * returns how many, and names each in `tally` when given (a cluster worker's, for its primary).
   */
  purge(scope: PurgeScope, tally?: PurgeTally): Promise<number>;
  /** A certificate was ordered by the process that orders (a cluster's primary): serve it from now on. */
  acmeIssued(name: string): void;
  /**
   * A program's own way out: the drain without its delay. Stops accepting, lets in-flight
   * requests finish until `drain.timeout` and cuts what is still open then (tunnels included),
   * closes upstream pools, exports the last spans and flushes the log. Once any of `drain()`,
   * `drainNow()` or `close()` has begun, the others return the same promise.
   */
  close(): Promise<void>;
}

/**
 * A reload asked of a gateway whose drain began: nothing read, nothing changed. Not a problem of
 * the config (it has no line to name): the gateway is on its way out.
 */
export class GatewayDraining extends Error {
  override readonly name = 'GatewayDraining';
  constructor() {
    super('the gateway is draining: no reload (the running config stays)');
  }
}

export interface GatewayOptions {
  /** Use this logger instead of the one the config describes (tests capture lines this way). */
  readonly logger?: Logger;
  /** Runtime changes in force at start (a worker started after they were made). */
  readonly changes?: readonly RuntimeChange[];
  /**
   * Serve `metrics.listen` from this process (the default). A cluster worker does not: the
   * primary serves every worker's metrics, merged.
   */
  readonly serveMetrics?: boolean;
  /**
   * Count into these metrics instead of new ones: a cluster worker makes them before it
   * starts, so that it answers the primary's scrapes from its first moment.
   */
  readonly metrics?: GatewayMetrics;
  /**
   * A cluster worker's link to its primary (cluster-link.ts): health checks and rate limits
   * are the primary's, split limits take this worker's share, ejections and open circuits
   * are told to the other workers. Without it (in-process) every limit and check is local.
   */
  readonly cluster?: ClusterLink;
  /**
   * The program's own stages for a route (stage.ts), run after Candor's own, in their order: built
   * anew for each config the gateway loads (a reload calls it again), so a stage holds the route it serves.
   */
  readonly stages?: GivenStages;
  /**
   * Plugins the program gives as objects (docs/plugins.md), by the name `plugins:` gives them in
   * the config: each takes the place of the module of that name (its options, timeout and
   * on_error are the config's). A factory is called once per config load, as a module's is.
   */
  readonly plugins?: Readonly<Record<string, GivenPlugin>>;
}

/** How long a replaced config's plugins are given to close (their requests in flight end on them meanwhile). */
const PLUGIN_CLOSE_MS = 5_000;

/** Starts a gateway on a validated config: its runtime, then every listener. */
export async function startGateway(given: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const link = options.cluster;
  // Discovered upstreams run on their last good DNS answer (the primary's, in a cluster).
  const discovered = new Map<string, DiscoveryReport>(link?.discovered().map((r) => [r.upstream, r]));
  // A cluster worker enforces its slice of the split limits (worker-share.ts); the hash is the config's.
  const mine = (file: GatewayConfig) =>
    withDiscovered(link ? splitLimits(file, link.share) : file, discovered);
  let whole = given;
  const config = mine(given);
  const logger = options.logger ?? createLogger(config.log, config.name);
  const timeline = new Timeline(logger);
  const metrics = options.metrics ?? new GatewayMetrics();
  // The plugins of the config in force, made first (one that cannot be made refuses the start):
  // once per config load, the same for every runtime a DNS answer rebuilds on it.
  let plugins = await loadPlugins(given, {
    logger,
    metrics,
    runtime: () => runtime,
    ...(options.plugins === undefined ? {} : { given: options.plugins }),
  });
  // Spool files a killed process left behind (one caught between opening and unlinking one).
  const leftover = await clearSpoolDir(config.limits.spoolDir);
  if (leftover > 0)
    logger.info({ dir: config.limits.spoolDir, files: leftover }, 'removed leftover spool files');
  // Each process asks Redis itself (a worker too: one hop, no primary on the request path).
  // ioredis is loaded only by a gateway whose config has a store, when the config comes.
  let RedisStore: typeof RedisRates | undefined;
  const loadStore = async (wanted: GatewayConfig) => {
    if (wanted.store !== undefined)
      RedisStore ??= (await import('../../proxy/admit/redis-rates.ts')).RedisRates;
  };
  const storeOf = (wanted: GatewayConfig) =>
    wanted.store === undefined || RedisStore === undefined
      ? undefined
      : new RedisStore(wanted.store.redis, logger, metrics);
  await loadStore(config);
  await loadOidc(config.routes);
  let store = storeOf(config);
  // The SDK is loaded only when tracing is on. The provider is the gateway's, made from the
  // config it starts with, and flushed by close() and the drain.
  const tracing =
    config.tracing === undefined
      ? undefined
      : (await import('../../observe/tracing/provider.ts')).startTracing(config.tracing, logger);
  const changes = new RuntimeChanges();
  for (const change of options.changes ?? [])
    if (RuntimeChanges.check(change, config) === undefined) changes.record(change);
  // Automatic HTTPS: the certificates ordered by ACME, served by SNI. In-process this gateway
  // orders them; in a cluster the primary does, and tells the workers (cluster-link.ts).
  await loadAutomaticHttps(config);
  // In a cluster the primary orders, and one worker counts each order (cluster-link.ts).
  const httpsOf = (wanted: GatewayConfig) => {
    metrics.acmeNames(acmeNames(wanted));
    return createAutomaticHttps(wanted, logger, {
      order: link === undefined,
      ordered: (outcome) => metrics.acmeOrdered(outcome),
    });
  };
  let https = httpsOf(config);
  // The listeners ask through this, so a reload that replaces `https` reaches the ones it keeps.
  const ordered: OrderedCertificateSource = {
    certificates: { contextFor: (name, shared) => https?.certificates.source.contextFor(name, shared) },
    alpnContext: (name) => https?.certificates.alpnContext(name),
  };
  // In-process the checks are this gateway's own: each transition is a timeline event (in a
  // cluster the primary's checks record it). The failure is read from the runtime live then.
  const healthCounts = link
    ? metrics
    : tellingTransitions(
        metrics,
        () => runtime.upstreams,
        (transition) => timeline.record({ kind: 'health', ...transition }),
      );
  const givenStages: GivenStages = (route) => [
    ...(options.stages?.(route) ?? []),
    ...(plugins?.stagesFor(route) ?? []),
  ];
  let runtime = createRuntime(
    config,
    logger,
    metrics,
    tracing,
    changes,
    undefined,
    link,
    store,
    https?.certificates,
    healthCounts,
    givenStages,
  );
  let hash = configHash(given);
  // Reloads run one at a time: a second waits for the first (its snapshot is the base).
  let reloading: Promise<unknown> = Promise.resolve();
  const current = () => runtime;
  let closing = false;
  // A new DNS answer: the runtime is rebuilt on it as a reload would (targets that stay keep
  // their pool, health and ejection; those that go are retired, their requests finishing).
  const onDiscovery = (report: DiscoveryReport, outcome: DiscoveryOutcome, count: boolean) => {
    // In a cluster the primary, which asked, has recorded the change.
    if (outcome === 'changed' && link === undefined)
      timeline.record({
        kind: 'discovery',
        upstream: report.upstream,
        ...targetMoves(discovered.get(report.upstream)?.targets ?? [], report.targets),
      });
    const before = discovered.get(report.upstream);
    discovered.set(report.upstream, report);
    if (count) metrics.discovered(report.upstream, outcome, report.failure);
    // An upstream with no target yet tells each request why: its latest failure, when that changes.
    const untold = report.targets.length === 0 && before?.failure !== report.failure;
    // A closing gateway builds nothing more (its runtime's pools are being closed).
    if ((outcome !== 'changed' && !untold) || closing || !Object.hasOwn(whole.upstreams, report.upstream))
      return;
    runtime = createRuntime(
      mine(whole),
      logger,
      metrics,
      tracing,
      changes,
      runtime,
      link,
      store,
      https?.certificates,
      healthCounts,
      givenStages,
    );
  };
  if (link) {
    link.onDiscovery = onDiscovery;
    // An answer that came while this gateway was starting (the link keeps the latest).
    for (const report of link.discovered())
      if (discovered.get(report.upstream) !== report) onDiscovery(report, 'changed', false);
  }
  // In-process, the gateway asks DNS itself; a cluster's primary asks once for every worker.
  const discoveries = link
    ? undefined
    : new Discoveries(config, logger, (report, outcome) => onDiscovery(report, outcome, true));
  // The listeners hand every request to a session on the runtime live at that moment: a
  // reload swaps the runtime for new requests only; a request keeps the one it began with.
  const handlers = listenerHandlers(current, () => gateway.draining, metrics, logger);
  if (link) followLink(link, current, () => https, metrics, logger);
  /** A runtime change, by the program (`apply`), the canary controller or, in a cluster, the primary. */
  const apply = (change: RuntimeChange, who: string) => {
    // Checked where it was made; refused here too, whatever sent it (a primary of another
    // release, a program): a negative weight draws every request to the other side.
    const refused = change.kind === 'split' ? weightProblem(change.sides) : undefined;
    if (refused !== undefined) throw new Error(`${refused.field}: ${refused.detail}`);
    changes.record(change);
    if (link === undefined) timeline.record({ kind: 'admin', who, change: timelineChange(change) });
    changes.applyTo(runtime.upstreams.values());
    if (change.kind === 'split') {
      const split = runtime.splits.get(change.route);
      split?.set(changes.split(change.route) ?? change.sides);
      // Requests held for a side the split no longer draws (a canary rolled back) go where it draws now.
      for (const side of split?.sides ?? [])
        if (side.weight === 0) runtime.upstreams.get(side.upstream)?.hold.splitChanged();
      if (split?.window !== undefined) metrics.canaryShare(change.route, split.sides);
      if (change.verdict !== undefined)
        metrics.canaryVerdict(change.route, change.verdict.verdict, change.verdict.metric);
    }
  };
  const listeners: Listener[] = [];
  let metricsListener: MetricsListener | undefined;
  // In-process the canaries are judged here; in a cluster, by the primary on every worker's counts.
  let canaries: Canaries | undefined;
  try {
    for (const listen of config.listen) listeners.push(await startListener(listen, handlers, ordered));
    // node:http comes with it: a cluster worker, whose primary serves /metrics, never loads it.
    if (config.metrics !== undefined && options.serveMetrics !== false) {
      const { startMetricsListener } = await import('../../observe/metrics/metrics-listener.ts');
      metricsListener = await startMetricsListener(
        config.metrics,
        () => metrics.exposition(),
        createHostCheck(config.metrics.host, config.metrics.allowedHosts),
      );
    }
    // Loaded only in-process: a cluster worker never holds the controller nor its statistics.
    if (link === undefined) {
      const { inProcessCanaries } = await import('./in-process-canaries.ts');
      canaries = inProcessCanaries({ logger, timeline, config: () => whole, runtime: current, apply });
      await canaries.sync(whole);
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await metricsListener?.close();
    https?.stop();
    discoveries?.stop();
    await store?.close();
    await runtime.close();
    await tracing?.shutdown();
    throw err;
  }
  metrics.configLoaded(given);
  metrics.watch({
    upstreams: () => current().upstreams.values(),
    certificates: () => https?.certificates.expiries() ?? [],
    listeners: () =>
      listeners.map((listener) => ({
        address: listener.config.address,
        connections: () => listener.connections(),
      })),
    logLinesDropped: () => logger[LINE_SINK].linesDropped ?? 0,
    spoolBytes: () => current().spool.held,
    readerBytes: () => current().readerMemory.held,
  });
  for (const listener of listeners) logListening(logger, listener);
  // Orders begin once the listeners answer: the CA's validation comes to them.
  https?.start();
  if (metricsListener !== undefined)
    logger.info({ address: `${config.metrics?.host}:${metricsListener.port()}` }, 'serving metrics');
  const flushed = () => new Promise<void>((resolve) => logger.flush(() => resolve()));
  /**
   * Listeners a reload removed, until their last connection has closed: a drain that begins
   * meanwhile waits for their requests too, and cuts them at its deadline, each with its line
   * (a worker exits once drained, and would cut them unlogged).
   */
  const closingListeners = new Set<Listener>();
  // The drain works on the listeners open when it runs: a reload may have added or removed some.
  const drain = new Drain(
    () => [...listeners, ...closingListeners],
    () => runtime.config.drain,
    logger,
  );
  let drained: Promise<void> | undefined;
  const drainGateway = (withDelay: boolean) => {
    // Requests waiting for a target (`hold`) are answered now: a drain must not wait out a restart.
    if (drained === undefined) for (const upstream of runtime.upstreams.values()) upstream.hold.drain();
    drained ??= drain.run({ withDelay }).then(async () => {
      await metricsListener?.close();
      closing = true;
      canaries?.close();
      https?.stop();
      discoveries?.stop();
      await store?.close();
      await runtime.close();
      await plugins?.close(PLUGIN_CLOSE_MS);
      await tracing?.shutdown();
      await flushed();
    });
    return drained;
  };

  const reload = async (file: GatewayConfig): Promise<ReloadOutcome> => {
    const next = mine(file);
    keepFieldLines(next, keptFieldLines(file));
    const before = runtime.config;
    // A draining gateway has stopped accepting on the listeners it had: one a reload opened
    // now would accept connections only for the drain to cut them.
    if (drain.started) throw new GatewayDraining();
    const problems = unchangeableProblems(before, next);
    if (problems.length > 0) throw new ConfigError(problems);
    // Loaded before anything changes, so that nothing is left half swapped.
    await loadStore(next);
    await loadOidc(next.routes);
    await loadAutomaticHttps(next);
    // The new config's plugins, made before anything changes: one that cannot be made refuses the reload whole.
    const nextPlugins = await loadPlugins(next, {
      logger,
      metrics,
      runtime: () => runtime,
      ...(options.plugins === undefined ? {} : { given: options.plugins }),
    });
    const plan = planListeners(before, next);
    // New listeners first: the one step that can fail, and nothing has changed yet if it does.
    const opened = await openAdded(plan, next, handlers, ordered).catch(async (err: unknown) => {
      await nextPlugins?.close(PLUGIN_CLOSE_MS);
      throw err;
    });
    const oldPlugins = plugins;
    plugins = nextPlugins;
    const dropped = changes.prune(next);
    const previous = runtime;
    if (JSON.stringify(next.store) !== JSON.stringify(previous.config.store)) {
      void store?.close();
      store = storeOf(next);
    }
    if (link === undefined)
      timeline.record({
        kind: 'reload',
        config_hash: configHash(file),
        via: 'program',
        ...reloadChanges(whole, file),
      });
    whole = file;
    discoveries?.update(file);
    https = replaceHttps(https, previous.config, next, () => httpsOf(next));
    // Built on the DNS answers in force now: one may have come while the listeners opened.
    runtime = createRuntime(
      mine(file),
      logger,
      metrics,
      tracing,
      changes,
      previous,
      link,
      store,
      https?.certificates,
      healthCounts,
      givenStages,
    );
    hash = configHash(file);
    metrics.configLoaded(file);
    metrics.canaryRoutes(
      new Set([...runtime.splits].filter(([, split]) => split.window !== undefined).map(([route]) => route)),
    );
    // A canary that appears starts, one that is gone stops, one whose settings changed starts
    // again; the fleet it is judged with follows (opened with a store, closed with the last canary).
    await canaries?.sync(file);
    // A logger handed in (tests) keeps its own level; the config's is for the one it describes.
    if (options.logger === undefined) logger.level = next.log.level;
    swapListeners(listeners, closingListeners, plan, opened, next, logger);
    // The replaced plugins end once the swap is done (requests in flight on them may still call them meanwhile).
    void oldPlugins?.close(PLUGIN_CLOSE_MS);
    const outcome = reloadOutcome(hash, plan, before, next, dropped);
    for (const what of dropped)
      logger.warn({ change: what }, 'runtime change dropped: its target or route left the config');
    logger.info({ pid: process.pid, ...outcome }, 'config swapped');
    return outcome;
  };

  const gateway: Gateway = {
    listeners,
    logger,
    metrics,
    timeline,
    metricsPort: () => metricsListener?.port(),
    runtime: current,
    configHash: () => hash,
    get draining() {
      return drain.started;
    },
    drain: () => drainGateway(true),
    drainNow() {
      drain.now();
      return drainGateway(true);
    },
    changes,
    reload(next) {
      const done = reloading.then(() => reload(next));
      // In a cluster the primary counts each reload once, refused files too (cluster-link.ts):
      // every worker swapping would count one reload once per worker.
      if (link === undefined)
        done.then(
          () => metrics.reloaded('success'),
          () => metrics.reloaded('failure'),
        );
      reloading = done.catch(() => {});
      return done;
    },
    apply: (change) => {
      apply(change, 'program');
      // A canary's share set by hand pauses it there (its status then tells the truth).
      if (change.kind !== 'split') return;
      const sides = changes.split(change.route);
      // `apply` answers at once: the fleet's answer (canary.md "Limits") is in the log and the status.
      if (sides !== undefined)
        canaries
          ?.byHand(change.route, sides, 'program')
          .catch((err: Error) =>
            logger.error(
              { route: change.route, err: err.message },
              'canary: the share set by hand not taken',
            ),
          );
    },
    canaries: () => canaries?.status() ?? [],
    async canary(route, action, who = 'program') {
      if (canaries === undefined)
        return { problem: 'a cluster worker judges no canary: its primary does (the admin API)' };
      return canaries.act(route, action, who);
    },
    async purge({ route, key }, tally) {
      // Every cache's answers in memory go at once (ResponseCache.purge), their files after.
      const purges: Promise<number>[] = [];
      for (const [name, cache] of runtime.caches)
        if (route === undefined || route === name) purges.push(cache.purge(key, tally));
      let removed = 0;
      for (const count of await Promise.all(purges)) removed += count;
      return removed;
    },
    status: () =>
      gatewayStatus(runtime, changes, hash, gateway.draining, {
        store,
        discovered,
        certificates: https?.status(),
      }),
    acmeIssued: (name) => https?.issued(name),
    // The drain without its delay: a connection that never closes (a half-open tunnel) is cut
    // at drain.timeout rather than holding the program until its own idle timeout; held
    // requests are answered at once, as in a drain.
    close: () => drainGateway(false),
  };
  return gateway;
}
