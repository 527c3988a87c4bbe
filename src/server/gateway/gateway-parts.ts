import { configHash } from '../../core/config/config-hash.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { Timeline } from '../../observe/events/timeline.ts';
import { createLogger, type Logger } from '../../observe/log/logger.ts';
import { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { MetricsListener } from '../../observe/metrics/metrics-listener.ts';
import type { Tracing } from '../../observe/tracing/spans.ts';
import type { Listener, OrderedCertificateSource } from '../../proxy/accept/listener.ts';
import { loadOidc } from '../../proxy/admit/access.ts';
import type { RedisRates } from '../../proxy/admit/redis-rates.ts';
import { clearSpoolDir } from '../../proxy/forward/spool-space.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import { withDiscovered } from '../../upstream/discovery/discoveries.ts';
import type { DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import type { HealthMetrics } from '../../upstream/health/active-checks.ts';
import { tellingTransitions } from '../../upstream/health/transitions.ts';
import {
  type AutomaticHttps,
  acmeNames,
  createAutomaticHttps,
  loadAutomaticHttps,
} from '../acme/automatic-https.ts';
import type { Canaries } from '../canary/canaries.ts';
import type { ClusterLink } from './cluster-link.ts';
import type { GatewayOptions } from './gateway-options.ts';
import { loadPlugins, type PluginSet } from './plugins.ts';
import { RetiredSnapshots } from './retired-snapshots.ts';
import { createRuntime, type LiveRuntime } from './runtime.ts';
import { RuntimeChanges } from './runtime-changes.ts';
import type { GivenStages } from './stage-builders.ts';
import { splitLimits } from './worker-share.ts';

/** How long a replaced config's plugins are given to close (their requests in flight end on them meanwhile). */
export const PLUGIN_CLOSE_MS = 5_000;

/** What a gateway is made of for its whole life: none of it is replaced by a reload. */
export interface GatewayParts {
  readonly options: GatewayOptions;
  readonly link: ClusterLink | undefined;
  /** Discovered upstreams run on their last good DNS answer (the primary's, in a cluster). */
  readonly discovered: Map<string, DiscoveryReport>;
  /** The config as this process enforces it: its share of the split limits, the DNS answers in. */
  readonly mine: (file: GatewayConfig) => GatewayConfig;
  readonly logger: Logger;
  readonly timeline: Timeline;
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing | undefined;
  readonly changes: RuntimeChanges;
  /** Loads ioredis when a config has a store, before anything changes. */
  readonly loadStore: (wanted: GatewayConfig) => Promise<void>;
  readonly storeOf: (wanted: GatewayConfig) => RedisRates | undefined;
  readonly httpsOf: (wanted: GatewayConfig) => AutomaticHttps | undefined;
  readonly ordered: OrderedCertificateSource;
  readonly healthCounts: HealthMetrics;
  readonly givenStages: GivenStages;
}

/** What a gateway holds now: a reload, a DNS answer or the drain replaces it. */
export interface GatewayLive {
  /** The config file in force, before `mine`. */
  whole: GatewayConfig;
  runtime: LiveRuntime;
  hash: string;
  plugins: PluginSet | undefined;
  store: RedisRates | undefined;
  https: AutomaticHttps | undefined;
  /** A closing gateway builds nothing more (its runtime's pools are being closed). */
  closing: boolean;
  canaries: Canaries | undefined;
  metricsListener: MetricsListener | undefined;
  readonly listeners: Listener[];
  /**
   * Listeners a reload removed, until their last connection has closed: a drain that begins
   * meanwhile waits for their requests too, and cuts them at its deadline, each with its line
   * (a worker exits once drained, and would cut them unlogged).
   */
  readonly closingListeners: Set<Listener>;
  /** The snapshots reloads replaced while their requests end, and the stores closed after them. */
  readonly retired: RetiredSnapshots;
}

/** A runtime on `config`, with everything the gateway holds now (`previous`: the one it replaces). */
export function runtimeOn(
  parts: GatewayParts,
  live: Pick<GatewayLive, 'store' | 'https'>,
  config: GatewayConfig,
  previous?: LiveRuntime,
): LiveRuntime {
  return createRuntime(
    config,
    parts.logger,
    parts.metrics,
    parts.tracing,
    parts.changes,
    previous,
    parts.link,
    live.store,
    live.https?.certificates,
    parts.healthCounts,
    parts.givenStages,
  );
}

/** The plugins of a config, made once per config load (one that cannot be made refuses it). */
export function pluginsOf(
  config: GatewayConfig,
  options: GatewayOptions,
  logger: Logger,
  metrics: GatewayMetrics,
  runtime: () => Runtime | undefined,
): Promise<PluginSet | undefined> {
  return loadPlugins(config, {
    logger,
    metrics,
    runtime,
    ...(options.plugins === undefined ? {} : { given: options.plugins }),
  });
}

/** The first step of a start: the parts, and the state on the given config with its runtime. */
export async function buildGateway(
  given: GatewayConfig,
  options: GatewayOptions,
): Promise<{ parts: GatewayParts; live: GatewayLive; config: GatewayConfig }> {
  const { link, discovered, mine, config, logger, timeline, metrics } = gatewayBase(given, options);
  // The plugins of the config in force, made first (one that cannot be made refuses the start):
  // once per config load, the same for every runtime a DNS answer rebuilds on it.
  // `served` once the runtime is built: a plugin's fetch before that (in its factory) is refused.
  let served: GatewayLive | undefined;
  const plugins = await pluginsOf(given, options, logger, metrics, () => served?.runtime);
  await clearLeftoverSpool(config, logger);
  const { loadStore, storeOf } = storeLoader(logger, metrics);
  await loadStore(config);
  await loadOidc(config.routes);
  const store = storeOf(config);
  // The SDK is loaded only when tracing is on. The provider is the gateway's, made from the
  // config it starts with, and flushed by close() and the drain.
  const tracing =
    config.tracing === undefined
      ? undefined
      : (await import('../../observe/tracing/provider.ts')).startTracing(config.tracing, logger, metrics);
  const changes = new RuntimeChanges();
  for (const change of options.changes ?? [])
    if (RuntimeChanges.check(change, config) === undefined) changes.record(change);
  // Automatic HTTPS: the certificates ordered by ACME, served by SNI. In-process this gateway
  // orders them; in a cluster the primary does, and tells the workers (cluster-link.ts).
  await loadAutomaticHttps(config);
  const httpsOf = httpsMaker(link, logger, metrics);
  const https = httpsOf(config);
  // The state, its runtime built last on the rest: the closures below read it only once it is.
  const live = {
    whole: given,
    hash: configHash(given),
    plugins,
    store,
    https,
    closing: false,
    canaries: undefined,
    metricsListener: undefined,
    listeners: [],
    closingListeners: new Set(),
    retired: new RetiredSnapshots(),
  } as Omit<GatewayLive, 'runtime'> as GatewayLive;
  // The listeners ask through this, so a reload that replaces `https` reaches the ones it keeps.
  const ordered: OrderedCertificateSource = {
    certificates: { contextFor: (name, shared) => live.https?.certificates.source.contextFor(name, shared) },
    alpnContext: (name) => live.https?.certificates.alpnContext(name),
  };
  // In-process the checks are this gateway's own: each transition is a timeline event (in a
  // cluster the primary's checks record it). The failure is read from the runtime live then.
  const healthCounts = link
    ? metrics
    : tellingTransitions(
        metrics,
        () => live.runtime.upstreams,
        (transition) => timeline.record({ kind: 'health', ...transition }),
      );
  const givenStages: GivenStages = (route) => [
    ...(options.stages?.(route) ?? []),
    ...(live.plugins?.stagesFor(route) ?? []),
  ];
  const parts: GatewayParts = {
    options,
    link,
    discovered,
    mine,
    logger,
    timeline,
    metrics,
    tracing,
    changes,
    loadStore,
    storeOf,
    httpsOf,
    ordered,
    healthCounts,
    givenStages,
  };
  live.runtime = runtimeOn(parts, live, config);
  served = live;
  return { parts, live, config };
}

/**
 * Each process asks Redis itself (a worker too: one hop, no primary on the request path).
 * ioredis is loaded only by a gateway whose config has a store, when the config comes.
 */
function storeLoader(logger: Logger, metrics: GatewayMetrics): Pick<GatewayParts, 'loadStore' | 'storeOf'> {
  let RedisStore: typeof RedisRates | undefined;
  return {
    async loadStore(wanted) {
      if (wanted.store !== undefined)
        RedisStore ??= (await import('../../proxy/admit/redis-rates.ts')).RedisRates;
    },
    storeOf: (wanted) =>
      wanted.store === undefined || RedisStore === undefined
        ? undefined
        : new RedisStore(wanted.store.redis, logger, metrics),
  };
}

/** The config as this process enforces it, and where it logs, records and counts. */
function gatewayBase(given: GatewayConfig, options: GatewayOptions) {
  const link = options.cluster;
  // Discovered upstreams run on their last good DNS answer (the primary's, in a cluster).
  const discovered = new Map<string, DiscoveryReport>(link?.discovered().map((r) => [r.upstream, r]));
  // A cluster worker enforces its slice of the split limits (worker-share.ts); the hash is the config's.
  const mine = (file: GatewayConfig) =>
    withDiscovered(link ? splitLimits(file, link.share) : file, discovered);
  const config = mine(given);
  const logger = options.logger ?? createLogger(config.log, config.name);
  const timeline = new Timeline(logger);
  const metrics = options.metrics ?? new GatewayMetrics();
  return { link, discovered, mine, config, logger, timeline, metrics };
}

/** In a cluster the primary orders, and one worker counts each order (cluster-link.ts). */
function httpsMaker(
  link: ClusterLink | undefined,
  logger: Logger,
  metrics: GatewayMetrics,
): GatewayParts['httpsOf'] {
  return (wanted) => {
    metrics.acmeNames(acmeNames(wanted));
    return createAutomaticHttps(wanted, logger, {
      order: link === undefined,
      ordered: (outcome) => metrics.acmeOrdered(outcome),
    });
  };
}

/** Spool files a killed process left behind (one caught between opening and unlinking one). */
async function clearLeftoverSpool(config: GatewayConfig, logger: Logger): Promise<void> {
  const leftover = await clearSpoolDir(config.limits.spoolDir);
  if (leftover > 0)
    logger.info({ dir: config.limits.spoolDir, files: leftover }, 'removed leftover spool files');
}
