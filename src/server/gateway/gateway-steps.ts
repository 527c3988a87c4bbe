import type { GatewayConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { LINE_SINK } from '../../observe/log/logger.ts';
import { flushReports } from '../../observe/log/report-every-second.ts';
import { startListener } from '../../proxy/accept/listener.ts';
import type { RequestHandlers } from '../../proxy/accept/request-handlers.ts';
import { Discoveries } from '../../upstream/discovery/discoveries.ts';
import type { DiscoveryOutcome, DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import type { Drain } from './drain.ts';
import { type GatewayLive, type GatewayParts, PLUGIN_CLOSE_MS, runtimeOn } from './gateway-parts.ts';
import { createHostCheck } from './host-check.ts';
import { logListening } from './reload-listeners.ts';
import { targetMoves } from './reload-plan.ts';
import {
  type RuntimeChange,
  sidesAfter,
  silentProblem,
  timelineChange,
  weightProblem,
} from './runtime-changes.ts';

/**
 * Follows the DNS answers: in-process the gateway asks DNS itself (the Discoveries returned); a
 * cluster's primary asks once for every worker, and its link hands each answer on.
 */
export function followDiscovery(
  parts: GatewayParts,
  live: GatewayLive,
  config: GatewayConfig,
): Discoveries | undefined {
  const { link, discovered, metrics, timeline } = parts;
  // A new DNS answer: the runtime is rebuilt on it as a reload would (targets that stay keep
  // their pool, health and ejection; those that go are retired, their requests finishing).
  const onDiscovery = (report: DiscoveryReport, outcome: DiscoveryOutcome, count: boolean) => {
    // An answer for an upstream this config does not discover is dropped: in a cluster the
    // primary stops its runner only after the workers have swapped, and an answer its old runner
    // sent in between was kept here, and used by a later reload that gave discovery back (its
    // targets served at once instead of the wait for the first answer, as forgetUndiscovered says).
    if (live.whole.upstreams[report.upstream]?.discovery === undefined) return;
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
    if (
      (outcome !== 'changed' && !untold) ||
      live.closing ||
      !Object.hasOwn(live.whole.upstreams, report.upstream)
    )
      return;
    live.runtime = runtimeOn(parts, live, parts.mine(live.whole), live.runtime);
  };
  if (link) {
    link.onDiscovery = onDiscovery;
    // An answer that came while this gateway was starting (the link keeps the latest).
    for (const report of link.discovered())
      if (discovered.get(report.upstream) !== report) onDiscovery(report, 'changed', false);
  }
  // In-process, the gateway asks DNS itself; a cluster's primary asks once for every worker.
  return link
    ? undefined
    : new Discoveries(config, parts.logger, (report, outcome) => onDiscovery(report, outcome, true));
}

/** A runtime change, by the program (`apply`), the canary controller or, in a cluster, the primary. */
export function applyChange(
  parts: GatewayParts,
  live: GatewayLive,
  change: RuntimeChange,
  who: string,
): void {
  const { changes, metrics } = parts;
  // Checked where it was made; refused here too, whatever sent it (a primary of another
  // release, a program): a negative weight draws every request to the other side.
  const split = change.kind === 'split' ? live.runtime.splits.get(change.route) : undefined;
  const refused =
    change.kind === 'split'
      ? (weightProblem(change.sides) ??
        silentProblem(sidesAfter(changes.split(change.route) ?? split?.sides ?? [], change.sides)))
      : undefined;
  if (refused !== undefined) throw new Error(`${refused.field}: ${refused.detail}`);
  changes.record(change);
  if (parts.link === undefined) parts.timeline.record({ kind: 'admin', who, change: timelineChange(change) });
  changes.applyTo(live.runtime.upstreams.values());
  if (change.kind === 'split') {
    split?.set(changes.split(change.route) ?? change.sides);
    // Requests held for a side the split no longer draws (a canary rolled back) go where it draws now.
    for (const side of split?.sides ?? [])
      if (side.weight === 0) live.runtime.upstreams.get(side.upstream)?.hold.splitChanged();
    if (split?.window !== undefined) metrics.canaryShare(change.route, split.sides);
    // In a cluster the primary, whose controller judged it, counts it (cluster/primary-counts.ts).
    if (change.verdict !== undefined && parts.link === undefined)
      metrics.canaryVerdict(change.route, change.verdict.verdict, change.verdict.metric);
  }
}

/**
 * Opens every listener, the metrics listener and (in-process) the canaries; if one cannot
 * start, closes what was opened or made and throws.
 */
export async function startListeners(
  parts: GatewayParts,
  live: GatewayLive,
  config: GatewayConfig,
  handlers: RequestHandlers,
  discoveries: Discoveries | undefined,
): Promise<void> {
  const { options, metrics } = parts;
  try {
    for (const listen of config.listen)
      live.listeners.push(await startListener(listen, handlers, parts.ordered));
    // node:http comes with it: a cluster worker, whose primary serves /metrics, never loads it.
    if (config.metrics !== undefined && options.serveMetrics !== false) {
      const { startMetricsListener, metricsPipelineClosed } = await import(
        '../../observe/metrics/metrics-listener.ts'
      );
      live.metricsListener = await startMetricsListener(
        config.metrics,
        () => metrics.exposition(),
        createHostCheck(config.metrics.host, config.metrics.allowedHosts),
        metricsPipelineClosed(parts.logger),
      );
    }
    // Loaded only in-process: a cluster worker never holds the controller nor its statistics.
    if (parts.link === undefined) {
      const { inProcessCanaries } = await import('./in-process-canaries.ts');
      live.canaries = inProcessCanaries({
        logger: parts.logger,
        timeline: parts.timeline,
        config: () => live.whole,
        runtime: () => live.runtime,
        apply: (change, who) => applyChange(parts, live, change, who),
      });
      await live.canaries.sync(live.whole);
    }
  } catch (err) {
    await Promise.all(live.listeners.map((l) => l.close()));
    await live.metricsListener?.close();
    live.https?.stop();
    discoveries?.stop();
    await live.store?.close();
    await live.runtime.close();
    await parts.tracing?.shutdown();
    throw err;
  }
}

/** Once the listeners answer: the metrics watch the live state, the log says what listens, orders begin. */
export function announceStarted(parts: GatewayParts, live: GatewayLive, config: GatewayConfig): void {
  const { metrics, logger } = parts;
  metrics.configLoaded(live.whole);
  metrics.watch({
    upstreams: () => live.runtime.upstreams.values(),
    certificates: () => live.https?.certificates.expiries() ?? [],
    listeners: () =>
      live.listeners.map((listener) => ({
        address: listener.config.address,
        connections: () => listener.connections(),
      })),
    logLinesDropped: () => logger[LINE_SINK].linesDropped ?? 0,
    spoolBytes: () => live.runtime.spool.overflowBytes,
    readerBytes: () => live.runtime.readerMemory.buffered,
  });
  for (const listener of live.listeners) logListening(logger, listener);
  // Orders begin once the listeners answer: the CA's validation comes to them.
  live.https?.start();
  if (live.metricsListener !== undefined)
    logger.info(
      { address: hostPort(config.metrics?.host ?? '', live.metricsListener.port()) },
      'serving metrics',
    );
}

/**
 * The drain (drain.ts), then everything the gateway holds closed and the log flushed: run once,
 * whichever of drain(), drainNow() and close() comes first (`withDelay`: drain.delay is waited).
 */
export function drainer(
  parts: GatewayParts,
  live: GatewayLive,
  drain: Drain,
  discoveries: Discoveries | undefined,
): (withDelay: boolean) => Promise<void> {
  const flushed = () => new Promise<void>((resolve) => parts.logger.flush(() => resolve()));
  let drained: Promise<void> | undefined;
  return (withDelay) => {
    // Requests waiting for a target (`hold`) are answered now: a drain must not wait out a restart.
    if (drained === undefined) for (const upstream of live.runtime.upstreams.values()) upstream.hold.drain();
    drained ??= drain.run({ withDelay }).then(async () => {
      await live.metricsListener?.close();
      parts.metrics.closed();
      live.closing = true;
      live.canaries?.close();
      live.https?.stop();
      discoveries?.stop();
      await live.retired.closeNow();
      await live.store?.close();
      await live.runtime.close();
      await live.plugins?.close(PLUGIN_CLOSE_MS);
      await parts.tracing?.shutdown();
      // The last second's floods (refused connections, stray bytes), held for their next line.
      flushReports();
      await flushed();
    });
    return drained;
  };
}
