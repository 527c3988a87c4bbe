import { configHash } from '../../core/config/config-hash.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import type { RetrySkip } from '../../core/retry/reasons.ts';
import { grpcStatusRead, type RequestRecord } from '../log/request-record.ts';
import { Activity } from './activity.ts';
import { METRICS, type MetricSpec, type Origin } from './catalog.ts';
import { CellCounter, CellHistogram, promOptions } from './cell-metrics.ts';
import {
  type CellFamily,
  type CounterCell,
  counterFamily,
  type HistogramCell,
  histogramFamily,
} from './cells.ts';
import { EventLoopWatch } from './event-loop.ts';
import type { Exposition } from './exposition.ts';
import { methodLabel } from './method-label.ts';
import { Gauge, Registry } from './prom.ts';
import { type MetricsSource, registerRuntimeGauges } from './runtime-gauges.ts';

/**
 * A canary verdict as the workers count it (candor_canary_verdicts_total): `pass` (metric empty),
 * `worse` (the metric that failed it) or `inconclusive` (metric empty: a step that passed while
 * the baseline failed past baseline_max_failed_percent, paused).
 */
export interface CanaryVerdictCount {
  readonly verdict: 'pass' | 'worse' | 'inconclusive';
  readonly metric: string;
}

/** One ACME order's end, as automatic HTTPS reports it (its error type already bounded). */
export interface AcmeOrderOutcome {
  readonly name: string;
  /** `adopted`: no order of this gateway's, another's certificate taken from the fleet (not counted; the failures end). */
  readonly result: 'ok' | 'failed' | 'adopted';
  /** The CA's problem type as a label ('' when the order succeeded). */
  readonly errorType: string;
  /** Failed orders of the name in a row (0 once one succeeded). */
  readonly failures: number;
}

/** The names and labels a plugin may count under, in each of its two metrics; past them, `_overflow`. */
export const PLUGIN_SERIES = 1000;
const OVERFLOW = ['_overflow', '_overflow'] as const;

type CounterKey = {
  [K in keyof typeof METRICS]: (typeof METRICS)[K]['type'] extends 'counter' ? K : never;
}[keyof typeof METRICS];

/**
 * One process's metrics: the hot path writes cells (cells.ts), prom-client renders them (and
 * the cluster primary aggregates them) when scraped. Gauges are not kept up to date on the
 * hot path: they are read from the runtime at scrape time.
 *
 * One instance per gateway, not per process, so that in-process gateways (the tests) count
 * only their own requests; a worker process runs one gateway, whose registry it hands to the
 * primary (cluster.ts).
 */
/** The 401s and 403s a route's access rules answered for one method. */
export interface RefusalCounts {
  '401': number;
  '403': number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  /** The last minutes' answers per second and the latest failures, for the status page (activity.ts). */
  readonly activity = new Activity();
  readonly #counters = new Map<CounterKey, CellFamily<CounterCell>>();
  /** The counters every request counts in, held here: no Map looked up for them per request. */
  readonly #answers: CellFamily<CounterCell>;
  readonly #attempts: CellFamily<CounterCell>;
  readonly #serverDuration: CellFamily<HistogramCell>;
  readonly #clientDuration: CellFamily<HistogramCell>;
  readonly #connect: CellFamily<HistogramCell>;
  readonly #firstByte: CellFamily<HistogramCell>;
  readonly #pluginObserved: CellFamily<HistogramCell>;
  readonly #configInfo: Gauge;
  readonly #storeUp: Gauge;
  readonly #canaryShare: Gauge;
  readonly #acmeFailures: Gauge;
  /** The error type each failing name is shown with, so that a new one replaces it. */
  readonly #acmeFailing = new Map<string, string>();
  /** The sides each canary route's share was last shown for, so that a side or route gone is unshown. */
  readonly #canarySides = new Map<string, readonly string[]>();
  #source: MetricsSource | undefined;
  /** Each plugin's names and labels that have series, by plugin: bounded (pluginCount). */
  readonly #pluginCounted = new Map<string, Set<string>>();
  readonly #pluginObservedSeries = new Map<string, Set<string>>();
  /** How this process's event loop keeps up, watched while the config has `metrics`. */
  readonly #loop = new EventLoopWatch();

  constructor() {
    const registry = this.registry;
    for (const key of Object.keys(METRICS) as (keyof typeof METRICS)[]) {
      const spec: MetricSpec = METRICS[key];
      // The log's drops are counted by its writer and the CPU time by the process: read when scraped.
      if (spec.type !== 'counter' || key === 'logLinesDropped' || key === 'cpuSeconds') continue;
      const family = counterFamily(spec.labels);
      this.#counters.set(key as CounterKey, family);
      new CellCounter(spec, family, registry, this.#departedOf(spec, family));
    }
    const histogram = (spec: MetricSpec) => {
      const family = histogramFamily(spec.labels, spec.buckets ?? []);
      new CellHistogram(spec, family, registry, this.#departedOf(spec, family));
      return family;
    };
    this.#serverDuration = histogram(METRICS.serverDuration);
    this.#clientDuration = histogram(METRICS.clientDuration);
    this.#connect = histogram(METRICS.connectDuration);
    this.#firstByte = histogram(METRICS.timeToFirstByte);
    this.#pluginObserved = histogram(METRICS.pluginObserved);
    this.#answers = this.#count('answers');
    this.#attempts = this.#count('attempts');
    this.#configInfo = new Gauge(promOptions(METRICS.configInfo, registry));
    this.#storeUp = new Gauge(promOptions(METRICS.storeUp, registry));
    this.#canaryShare = new Gauge(promOptions(METRICS.canaryShare, registry));
    this.#acmeFailures = new Gauge(promOptions(METRICS.acmeOrderFailures, registry));
    // A fleet's config source is followed by the primary, which adds their values when it merges
    // the workers' (cluster.ts): declared here so that every exposition has the same families.
    for (const spec of [
      METRICS.configSourceRevision,
      METRICS.configSourceUnreachableSince,
      METRICS.configSourceRefusedRevision,
    ])
      new Gauge(promOptions(spec, registry));
    registerRuntimeGauges(registry, () => this.#source, this.#loop);
    // Shown at 0 before the first reload, so that a rate() over them works from the start.
    this.#count('configReloads').cell('success');
    this.#count('configReloads').cell('failure');
  }

  /** Where the gauges read the live state from (the gateway sets it once it runs). */
  watch(source: MetricsSource): void {
    this.#source = source;
  }

  /** This process's metrics in Prometheus text format: what GET /metrics answers outside a cluster. */
  async exposition(): Promise<Exposition> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  // ── the request path ────────────────────────────────────────────────────────────

  /** The request's one log line was written: its answer and its duration (`now`, `totalMs`: the line's readings). */
  requestEnded(record: RequestRecord, origin: Origin, now = Date.now(), totalMs = record.elapsed()): void {
    const route = record.route ?? '';
    const errorType = record.failure?.type ?? '';
    this.#answers.cell(route, record.status, origin, errorType).value++;
    const { auth } = record;
    if (auth !== undefined) {
      this.#count('accessDecisions').cell(route, accessOutcome(auth)).value++;
      if ((record.status === 401 || record.status === 403) && auth.startsWith('denied'))
        this.#count('accessRefusals').cell(route, methodLabel(record.method), record.status).value++;
    }
    const grpc = grpcStatusRead(record);
    if (grpc !== undefined)
      this.#count('grpcAnswers').cell(
        route,
        grpc,
        record.gatewayGrpcStatus === undefined ? 'upstream' : 'gateway',
      ).value++;
    this.#serverDuration
      .cell(route, methodLabel(record.method), record.status, errorType)
      .observe(totalMs / 1000);
    this.activity.record(record, origin, now);
  }

  /** A canary route's sides have these weights now (a step, a rollback, a promotion). */
  canaryShare(route: string, sides: readonly { upstream: string; weight: number }[]): void {
    const total = sides.reduce((sum, s) => sum + s.weight, 0);
    const upstreams = sides.map((side) => side.upstream);
    for (const gone of this.#canarySides.get(route) ?? [])
      if (!upstreams.includes(gone)) this.#canaryShare.remove({ route, upstream: gone });
    this.#canarySides.set(route, upstreams);
    for (const side of sides)
      this.#canaryShare.set(
        { route, upstream: side.upstream },
        total === 0 ? 0 : (100 * side.weight) / total,
      );
  }

  /** The routes with a canary after a reload: the others' shares go (a dropped canary has none, not its last step's). */
  canaryRoutes(routes: ReadonlySet<string>): void {
    for (const [route, upstreams] of this.#canarySides) {
      if (routes.has(route)) continue;
      for (const upstream of upstreams) this.#canaryShare.remove({ route, upstream });
      this.#canarySides.delete(route);
    }
  }

  /** The canary controller judged a step of this route (the metric that failed it; '' when it passed or was inconclusive). */
  canaryVerdict(route: string, verdict: CanaryVerdictCount['verdict'], metric: string): void {
    this.#count('canaryVerdicts').cell(route, verdict, metric).value++;
  }

  /** One attempt settled: `outcome` is "response" or the failure type. */
  attempted(upstream: string, target: string, outcome: string, reused: boolean): void {
    this.#attempts.cell(upstream, target, outcome, reused ? 'true' : 'false').value++;
  }

  /** One attempt is over (its response whole, cut, or its failure): its duration, OpenTelemetry's way. */
  attemptDuration(
    upstream: string,
    target: string,
    method: string,
    status: number | undefined,
    errorType: string,
    seconds: number,
  ): void {
    this.#clientDuration
      .cell(upstream, target, methodLabel(method), status ?? '', errorType)
      .observe(seconds);
  }

  /** A retry ended (or was called off): why it was made and how it went. */
  retried(upstream: string, reason: string, result: string): void {
    this.#count('retries').cell(upstream, reason, result).value++;
  }

  retrySkipped(upstream: string, why: RetrySkip): void {
    this.#count('retriesSkipped').cell(upstream, why).value++;
  }

  /** A route stage's hook ran (stage.ts): its result and its time. */
  stageHook(stage: string, hook: string, result: string, seconds: number): void {
    this.#count('stageHooks').cell(stage, hook, result).value++;
    this.#count('stageHookTime').cell(stage, hook).value += seconds;
  }

  /** A plugin's error nothing caught, which the worker survived (cli/worker-faults.ts). */
  pluginUncaught(plugin: string): void {
    this.#count('pluginUncaught').cell(plugin).value++;
  }

  /**
   * A plugin's own count (plugin-api.ts's metrics.count). False when its name and label were
   * one past the plugin's PLUGIN_SERIES: counted under `_overflow` instead.
   */
  pluginCount(plugin: string, name: string, label: string, by: number): boolean {
    const [n, l] = this.#pluginSeries(this.#pluginCounted, plugin, name, label);
    this.#count('pluginEvents').cell(plugin, n, l).value += by;
    return n === name;
  }

  /** A plugin's own observation (plugin-api.ts's metrics.observe); false as pluginCount's. */
  pluginObserve(plugin: string, name: string, label: string, value: number): boolean {
    const [n, l] = this.#pluginSeries(this.#pluginObservedSeries, plugin, name, label);
    this.#pluginObserved.cell(plugin, n, l).observe(value);
    return n === name;
  }

  /**
   * The name and label a plugin's call counts under: its own while the plugin has fewer than
   * PLUGIN_SERIES of them in the metric, else `_overflow` (OpenTelemetry's cardinality limit).
   * A plugin that takes a label from a request (a Host, a path, a user id) made a series of each,
   * kept for the gateway's life in every worker and in every scrape.
   */
  #pluginSeries(
    seen: Map<string, Set<string>>,
    plugin: string,
    name: string,
    label: string,
  ): readonly [string, string] {
    let series = seen.get(plugin);
    if (series === undefined) {
      series = new Set<string>();
      seen.set(plugin, series);
    }
    const key = `${name}\0${label}`;
    if (series.has(key)) return [name, label];
    if (series.size >= PLUGIN_SERIES) return OVERFLOW;
    series.add(key);
    return [name, label];
  }

  /** What a route's cache did for one request (the result its Cache-Status names). */
  cacheLookup(route: string, result: string): void {
    this.#count('cacheLookups').cell(route, result).value++;
  }

  /** A stored answer stood in for a failed upstream: `cause` is the failure type, or upstream_5xx. */
  cacheStale(route: string, cause: string): void {
    this.#count('cacheStale').cell(route, cause).value++;
  }

  /** A route's cache folder failed it (disk-failures.ts): an answer not written there, or a stored file not read. */
  cacheDiskFailure(route: string, kind: 'write' | 'unread' | 'read'): void {
    this.#count('cacheDiskFailures').cell(route, kind).value++;
  }

  /** The stored answers a route's cache gave in place of a failed upstream, by cause (for the status page). */
  staleAnswers(route: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const cell of this.#count('cacheStale').cells)
      if (cell.labels.route === route && cell.value > 0) counts[cell.labels.cause] = cell.value;
    return counts;
  }

  /** A route's 401s and 403s its access rules answered in this process, by method (`GET`, or `_OTHER`). */
  refusals(route: string): Record<string, RefusalCounts> {
    const counts: Record<string, RefusalCounts> = {};
    for (const cell of this.#count('accessRefusals').cells)
      if (cell.labels.route === route && cell.value > 0) {
        const { method, status } = cell.labels;
        const seen = counts[method] ?? { '401': 0, '403': 0 };
        if (status === '401' || status === '403') seen[status] += cell.value;
        counts[method] = seen;
      }
    return counts;
  }

  /**
   * Each stage whose name starts with `prefix` (`plugin:`), this process's calls of its hooks:
   * how many, how many failed (threw, or refused with a failure), how many overran, and their time.
   */
  stageCounts(
    prefix: string,
  ): Record<
    string,
    { calls: number; failures: number; overruns: number; seconds: number; uncaught: number }
  > {
    const counts: Record<
      string,
      { calls: number; failures: number; overruns: number; seconds: number; uncaught: number }
    > = {};
    const of = (stage: string) =>
      (counts[stage] ??= { calls: 0, failures: 0, overruns: 0, seconds: 0, uncaught: 0 });
    for (const cell of this.#count('stageHooks').cells) {
      const { stage, result } = cell.labels;
      if (!stage.startsWith(prefix)) continue;
      const seen = of(stage);
      seen.calls += cell.value;
      if (result === 'overran') seen.overruns += cell.value;
      else if (result !== 'ok') seen.failures += cell.value;
    }
    for (const cell of this.#count('stageHookTime').cells)
      if (cell.labels.stage.startsWith(prefix)) of(cell.labels.stage).seconds += cell.value;
    // A plugin's errors outside its hooks (cli/worker-faults.ts), under its stage's name.
    if (prefix === 'plugin:')
      for (const cell of this.#count('pluginUncaught').cells)
        of(`plugin:${cell.labels.plugin}`).uncaught += cell.value;
    return counts;
  }

  /** A response reached its client partly through a spool file: `bytes` went through it. */
  spooled(route: string, bytes: number): void {
    this.#count('spooledAnswers').cell(route).value++;
    this.#count('spooledBytes').cell(route).value += bytes;
  }

  ejected(upstream: string, target: string): void {
    this.#count('ejections').cell(upstream, target).value++;
  }

  /** Spans handed to the exporter (tracing/provider.ts), by how they ended; `failed` and `dropped` are lost. */
  traceSpans(result: 'exported' | 'failed' | 'dropped', count: number): void {
    this.#count('traceSpans').cell(result).value += count;
  }

  /** The upstream's circuit opened here (upstream-circuit.ts, judgeCircuit); another worker's opening is its own count. */
  circuitOpened(upstream: string): void {
    this.#count('circuitOpens').cell(upstream).value++;
  }

  /** An ejection ended (report-outcome.ts, tellReturn): counted once per ejection, by `by`. */
  returned(upstream: string, target: string, by: 'request' | 'check'): void {
    this.#count('returns').cell(upstream, target, by).value++;
  }

  connected(upstream: string, target: string, seconds: number): void {
    this.#connect.cell(upstream, target).observe(seconds);
  }

  firstByte(upstream: string, target: string, seconds: number): void {
    this.#firstByte.cell(upstream, target).observe(seconds);
  }

  // ── beside the request path ─────────────────────────────────────────────────────

  healthChecked(upstream: string, target: string, ok: boolean, errorType: string): void {
    this.#count('healthChecks').cell(upstream, target, ok ? 'success' : 'failure', errorType).value++;
  }

  healthTransition(upstream: string, target: string, to: 'healthy' | 'unhealthy'): void {
    this.#count('healthTransitions').cell(upstream, target, to).value++;
  }

  /** Connections the listener closed as they came in, at its `max_connections`. */
  connectionsDropped(listener: string, count: number): void {
    this.#count('clientConnectionsDropped').cell(listener).value += count;
  }

  /** Client TLS handshakes that failed on the listener, by why (handshake-failure.ts). */
  handshakesFailed(listener: string, reason: string, count: number): void {
    this.#count('clientHandshakeFailures').cell(listener, reason).value += count;
  }

  /** The shared rate-limit store became reachable (up) or not. */
  storeState(up: boolean): void {
    this.#storeUp.set({ store: 'redis' }, up ? 1 : 0);
    this.#count('storeStateChanges').cell('redis', up ? 'up' : 'down').value++;
  }

  /** A rate-limited request decided by on_error, the store not answering. */
  storeFallback(decision: 'allow' | 'deny'): void {
    this.#count('storeFallbacks').cell('redis', decision).value++;
  }

  /** A DNS question of a discovered upstream: a changed set, or a failure (the last set kept). */
  discovered(
    upstream: string,
    outcome: 'changed' | 'same' | 'error' | 'empty',
    failure: string | null,
  ): void {
    if (outcome === 'changed') this.#count('discoveryChanges').cell(upstream).value++;
    else if (outcome !== 'same') this.#count('discoveryFailures').cell(upstream, failure ?? outcome).value++;
  }

  /** A config went live (at start, or by a reload): its hash becomes the info metric. */
  configLoaded(config: GatewayConfig): void {
    this.#configInfo.reset();
    this.#configInfo.set({ name: config.name, hash: configHash(config) }, 1);
    this.#loop.watch(config.metrics !== undefined);
  }

  /** The gateway closed: its event loop is watched no more (the histogram's timer would outlive it in a program that goes on). */
  closed(): void {
    this.#loop.watch(false);
  }

  /**
   * The names the config orders by ACME: their order counts are shown at 0, so that increase()
   * sees the first failure; a name the config no longer orders has no failures shown.
   */
  acmeNames(names: readonly string[]): void {
    for (const name of names) {
      this.#count('acmeOrders').cell(name, 'ok');
      this.#count('acmeOrders').cell(name, 'failed');
    }
    for (const [name, errorType] of this.#acmeFailing)
      if (!names.includes(name)) {
        this.#acmeFailures.remove({ name, error_type: errorType });
        this.#acmeFailing.delete(name);
      }
  }

  /**
   * An ACME order ended: counted, and while the name's orders fail, how many in a row and the last
   * one's type. `count` false: a cluster worker told of its primary's order, which the primary
   * counts itself (primary-counts.ts), so that a worker's death takes no order with it.
   */
  acmeOrdered({ name, result, errorType, failures }: AcmeOrderOutcome, count = true): void {
    if (result !== 'adopted' && count) this.#count('acmeOrders').cell(name, result).value++;
    const shown = this.#acmeFailing.get(name);
    if (shown !== undefined && (result !== 'failed' || shown !== errorType))
      this.#acmeFailures.remove({ name, error_type: shown });
    if (result !== 'failed') {
      this.#acmeFailing.delete(name);
      return;
    }
    this.#acmeFailing.set(name, errorType);
    this.#acmeFailures.set({ name, error_type: errorType }, failures);
  }

  /** For the reload path: count each attempt to reload, and whether it went live. */
  reloaded(result: 'success' | 'failure'): void {
    this.#count('configReloads').cell(result).value++;
  }

  /**
   * For a metric counted per target: drops, when scraped, the series of each target that is no
   * longer one of its upstream's. An upstream found by DNS changes targets for as long as the
   * gateway runs (new pod addresses at each deploy): kept, their series grew without end. Only
   * upstreams the runtime has are looked at: one a reload removed, or an auth hop's, keeps its
   * series (a config's worth, bounded).
   */
  #departedOf(spec: MetricSpec, family: CellFamily<CounterCell | HistogramCell>): () => void {
    if (spec.labels[0] !== 'upstream' || spec.labels[1] !== 'target') return () => {};
    return () => {
      const live = new Map<string, Set<string>>();
      for (const upstream of this.#source?.upstreams() ?? [])
        live.set(upstream.name, new Set(upstream.targets.map((t) => t.config.origin)));
      for (const [upstream, target] of family.pairs()) {
        const targets = live.get(String(upstream));
        if (targets !== undefined && !targets.has(String(target))) family.forget(upstream, target);
      }
    };
  }

  #count(key: CounterKey): CellFamily<CounterCell> {
    return this.#counters.get(key) as CellFamily<CounterCell>;
  }
}

/** The log's `auth` note as a label: its first word (allowed, denied, failed), never the client-made reason. */
function accessOutcome(note: string): string {
  const colon = note.indexOf(':');
  return colon === -1 ? note : note.slice(0, colon);
}
