/**
 * The gauges read from the live runtime when scraped, never kept up to date on the hot path:
 * each target's health, ejection and circuit, each upstream's retry budget, requests in flight,
 * pending and held, the log's dropped lines, the certificates' expiry, the spool's bytes, what slow readers hold in memory and the
 * listeners' connections.
 */
import { METRICS, type MetricSpec } from './catalog.ts';
import { promOptions } from './cell-metrics.ts';
import type { EventLoopReading, EventLoopWatch } from './event-loop.ts';
import { Counter, Gauge, type Registry } from './prom.ts';

/**
 * What the gauges read of an upstream when scraped, as upstream/targets/upstream.ts has it: named
 * here, not imported, so that observe/ stays below the upstream/ that counts into it.
 */
interface GaugedUpstream {
  readonly name: string;
  readonly targets: readonly GaugedTarget[];
  readonly circuit: { stateAt(now: number): string };
  readonly retryBudget: { remaining(): number };
  readonly inFlight: { readonly count: number };
  readonly pending: { readonly count: number };
  readonly hold: { readonly size: number };
}

interface GaugedTarget {
  readonly config: { readonly origin: string };
  readonly checkedHealthy: boolean;
  isEjected(now: number): boolean;
  ejectionState(now: number): string;
}

/** What the scrape-time gauges read: the live runtime's upstreams and the open listeners. */
export interface MetricsSource {
  upstreams(): Iterable<GaugedUpstream>;
  listeners(): Iterable<ListenerGauge>;
  /** Lines the gateway's log dropped so far (read when scraped). */
  logLinesDropped(): number;
  /** Bytes the spool files hold now. */
  spoolBytes?(): number;
  /** Response bytes held in memory for slow readers now. */
  readerBytes?(): number;
  /** Every name the config orders by ACME, with when the certificate this process serves for it ends (none: undefined). */
  certificates?(): Iterable<{ readonly name: string; readonly notAfter: number | undefined }>;
}

interface ListenerGauge {
  /** The listener's address as configured (the label value). */
  readonly address: string;
  connections(): Promise<number>;
}

/**
 * Registers the gauges in `registry`; each reads `source()` when scraped (undefined until the
 * gateway runs), the event loop's `loop`.
 */
export function registerRuntimeGauges(
  registry: Registry,
  source: () => MetricsSource | undefined,
  loop: EventLoopWatch,
): void {
  registerUpstreamGauges(registry, () => source()?.upstreams() ?? []);
  registerProcessGauges(registry, source);
  registerLoopGauges(registry, loop);
}

/** Each target's health, ejection and circuit; each upstream's retry budget and requests in flight, pending and held. */
function registerUpstreamGauges(registry: Registry, upstreams: () => Iterable<GaugedUpstream>): void {
  const perTarget = (spec: MetricSpec, value: (upstream: GaugedUpstream, t: GaugedTarget) => number) =>
    new Gauge({
      ...promOptions(spec, registry),
      collect() {
        this.reset();
        for (const upstream of upstreams())
          for (const target of upstream.targets)
            this.set({ upstream: upstream.name, target: target.config.origin }, value(upstream, target));
      },
    });
  const perUpstream = (spec: MetricSpec, value: (upstream: GaugedUpstream) => number) =>
    new Gauge({
      ...promOptions(spec, registry),
      collect() {
        this.reset();
        for (const upstream of upstreams()) this.set({ upstream: upstream.name }, value(upstream));
      },
    });
  perTarget(METRICS.targetHealthy, (_, target) => (target.checkedHealthy ? 1 : 0));
  perTarget(METRICS.targetEjected, (_, target) => (target.isEjected(performance.now()) ? 1 : 0));
  new Gauge({
    ...promOptions(METRICS.circuitState, registry),
    collect() {
      this.reset();
      const now = performance.now();
      const states = (upstream: string, target: string, state: string) => {
        for (const each of ['closed', 'half_open', 'open'])
          this.set({ upstream, target, state: each }, each === state ? 1 : 0);
      };
      for (const upstream of upstreams()) {
        states(upstream.name, '', upstream.circuit.stateAt(now));
        for (const target of upstream.targets) {
          states(upstream.name, target.config.origin, target.ejectionState(now));
        }
      }
    },
  });
  perUpstream(METRICS.retryBudget, (upstream) => upstream.retryBudget.remaining());
  perUpstream(METRICS.inFlight, (upstream) => upstream.inFlight.count);
  perUpstream(METRICS.pending, (upstream) => upstream.pending.count);
  perUpstream(METRICS.held, (upstream) => upstream.hold.size);
}

/** The log's dropped lines, the certificates' expiry, the spool's bytes, what slow readers hold, the listeners' connections. */
function registerProcessGauges(registry: Registry, source: () => MetricsSource | undefined): void {
  new Counter({
    ...promOptions(METRICS.logLinesDropped, registry),
    collect() {
      this.reset();
      this.inc(source()?.logLinesDropped() ?? 0);
    },
  });
  new Gauge({
    ...promOptions(METRICS.certificateExpiry, registry),
    collect() {
      this.reset();
      const now = Date.now();
      // A name with no certificate reads 0, as one that ends now: the alert on "less than a
      // week left" fires for an order that never succeeded as it does for a renewal that fails.
      for (const { name, notAfter } of source()?.certificates?.() ?? [])
        this.set({ name }, notAfter === undefined ? 0 : Math.round((notAfter - now) / 1000));
    },
  });
  new Gauge({
    ...promOptions(METRICS.spoolBytes, registry),
    collect() {
      this.set(source()?.spoolBytes?.() ?? 0);
    },
  });
  new Gauge({
    ...promOptions(METRICS.readerBytes, registry),
    collect() {
      this.set(source()?.readerBytes?.() ?? 0);
    },
  });
  new Gauge({
    ...promOptions(METRICS.clientConnections, registry),
    async collect() {
      this.reset();
      for (const listener of source()?.listeners() ?? [])
        this.set({ listener: listener.address }, await listener.connections());
    },
  });
}

/**
 * The event loop's delay and busy share since the previous scrape (event-loop.ts: one reading
 * for the three, taken by the first collected; prom-client collects a registry's metrics in
 * the order they were registered), the process's resident memory and CPU time. A process not
 * watching its loop (no `metrics` in its config) shows no delay nor busy share rather than a 0
 * it did not measure.
 */
function registerLoopGauges(registry: Registry, loop: EventLoopWatch): void {
  let reading: EventLoopReading | undefined;
  const shown = (gauge: Gauge, value: number | undefined) => {
    gauge.reset();
    if (value === undefined) gauge.remove();
    else gauge.set(value);
  };
  new Gauge({
    ...promOptions(METRICS.eventLoopDelayP99, registry),
    collect() {
      reading = loop.read();
      shown(this, reading?.delayP99);
    },
  });
  new Gauge({
    ...promOptions(METRICS.eventLoopDelayMax, registry),
    collect() {
      shown(this, reading?.delayMax);
    },
  });
  new Gauge({
    ...promOptions(METRICS.eventLoopUtilization, registry),
    collect() {
      shown(this, reading?.utilization);
    },
  });
  new Gauge({
    ...promOptions(METRICS.residentMemory, registry),
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    ...promOptions(METRICS.cpuSeconds, registry),
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
}
