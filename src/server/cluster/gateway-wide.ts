import cluster, { type Worker } from 'node:cluster';
import type { GatewayConfig } from '../../core/config/types.ts';
import type { Timeline } from '../../observe/events/timeline.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayRateLimits } from '../../proxy/admit/gateway-rate-limits.ts';
import type { Discoveries } from '../../upstream/discovery/discoveries.ts';
import type { DiscoveryOutcome, DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import type { GatewayChecks } from '../../upstream/health/gateway-checks.ts';
import type { CertificateStatus } from '../acme/acme-manager.ts';
import {
  type AutomaticHttps,
  createAutomaticHttps,
  loadAutomaticHttps,
  replaceHttps,
} from '../acme/automatic-https.ts';
import { isServing } from '../gateway/ipc-protocol.ts';
import { targetMoves } from '../gateway/reload-plan.ts';
import type { RuntimeChanges } from '../gateway/runtime-changes.ts';
import type {
  Announcement,
  EarlyCount,
  HealthVerdict,
  SharedToWorker,
  WorkerShare,
} from '../gateway/shared-protocol.ts';
import { isSharedFromWorker } from '../gateway/shared-protocol.ts';
import { EjectionReturns } from './ejection-returns.ts';
import { OpenBreakers } from './open-breakers.ts';
import { countAcmeOrder } from './primary-counts.ts';
import { RenewalLeases } from './renewal-leases.ts';

/**
 * What the cluster primary holds so that a configured limit is the gateway's and not each
 * worker's (README, "Limits across workers and gateways"): the rate limits' buckets, the one set of health checks,
 * the one DNS discovery, each worker's slice of the split limits, the relay of ejections,
 * open circuits and cache invalidations between workers, and which ends of an ejection are
 * counted (ejection-returns.ts). Each of these is loaded and made by the first config that
 * uses it (at start or by a reload), not by every primary: the health checks alone bring the
 * upstream connections' modules, automatic HTTPS jose and node:https, megabytes of memory
 * in a process that most configs never ask for them.
 */
export class GatewayWide {
  readonly #workers: number;
  /** Live workers by slice: a restarted worker takes the slice of the one that died. */
  readonly #slices = new Map<Worker, number>();
  /**
   * The workers that serve: only one of them counts what the primary does. A worker still
   * starting has not wired its metrics to its link (a count sent it then was dropped), and
   * before any serves (the first probes and DNS answers come within a second of the start,
   * before the workers do) the counts are kept in `#early`, by label set, for the first to serve.
   */
  readonly #servingWorkers = new Set<Worker>();
  readonly #early = new Map<string, EarlyCount>();
  #checks: GatewayChecks | undefined;
  #rates: GatewayRateLimits | undefined;
  #discoveries: Discoveries | undefined;
  #withDiscovered: typeof import('../../upstream/discovery/discoveries.ts').withDiscovered | undefined;
  #forget: typeof import('../../upstream/discovery/discoveries.ts').forgetUndiscovered | undefined;
  readonly #discovered = new Map<string, DiscoveryReport>();
  /** The admin API's runtime changes in force: health checks made by a later config start on them. */
  #changes: RuntimeChanges | undefined;
  #config: GatewayConfig;
  /** Automatic HTTPS: the primary orders every certificate, once for the gateway; workers serve them. */
  #https: AutomaticHttps | undefined;
  #serving = false;
  /** Each config is applied in turn, the parts it needs loaded first (configChanged does not wait). */
  #applying: Promise<void> = Promise.resolve();

  readonly #logger: Logger;

  readonly #timeline: Timeline;
  /** Which workers' returns of ejected targets are counted: one per ejection. */
  readonly #returns = new EjectionReturns();
  /** The circuits open and the targets ejected now: a worker forked later starts on them. */
  readonly #breakers = new OpenBreakers();
  /** OpenID Connect session renewals: each refresh token spent once for the gateway, not once a worker. */
  readonly #renewals = new RenewalLeases();

  /** Made by start(), with the parts the first config needs. */
  private constructor(config: GatewayConfig, workers: number, logger: Logger, timeline: Timeline) {
    this.#workers = workers;
    this.#logger = logger;
    this.#timeline = timeline;
    this.#config = config;
    cluster.on('exit', (worker) => {
      this.#renewals.exited(worker);
      this.#servingWorkers.delete(worker);
    });
    cluster.on('message', (from, message) => {
      if (isServing(message)) return this.#served(from);
      if (!isSharedFromWorker(message)) return;
      switch (message.candor) {
        case 'renew-ask':
          this.#renewals.ask(from, message.id, message.key, primaryNow());
          return;
        case 'renewed':
          this.#renewals.told(from, message.key, message.outcome, message.session, primaryNow());
          return;
        case 'rate-ask': {
          // Read after its worker gave up on it (this process stopped, or busy): that request was
          // decided on the worker's own share, and a token taken here too would be charged twice,
          // a refused one charged at all. Nobody waits for the answer.
          if (message.until !== undefined && Date.now() > message.until) return;
          // No buckets yet: the config that has the limit is still being applied, and a route
          // without a limit passes (as when a reload races the question).
          const wait = this.#rates?.take(message.route, message.key, performance.now()) ?? 0;
          const answer: SharedToWorker = { candor: 'rate-answer', id: message.id, wait };
          if (from.isConnected()) from.send(answer);
          return;
        }
        case 'returned': {
          this.#breakers.returned(message.upstream, message.origin);
          // Told to the primary alone: an ejection's first return is counted, by the worker that ended it.
          if (!this.#returns.returned(message.upstream, message.origin) || !from.isConnected()) return;
          const counted: SharedToWorker = { ...message, candor: 'return-counted' };
          from.send(counted);
          return;
        }
        case 'ejected':
          // A failed probe's is the ejection going on: its return is still the one to count.
          if (message.again !== true) this.#returns.ejected(message.upstream, message.origin);
          this.#breakers.heard(message, primaryNow());
          for (const worker of this.#live()) if (worker !== from) worker.send(message);
          return;
        case 'circuit-opened':
        case 'circuit-closed':
          this.#breakers.heard(message, primaryNow());
          for (const worker of this.#live()) if (worker !== from) worker.send(message);
          return;
        case 'cache-invalidated':
        case 'cache-stored':
          // News for every other worker: the one that saw it has already acted.
          for (const worker of this.#live()) if (worker !== from) worker.send(message);
          return;
      }
    });
  }

  /**
   * `timeline`: where the health checks' transitions and DNS discovery's changes are recorded.
   * Resolves once what `config` asks for (health checks, discovery, limits, certificates) runs.
   */
  static async start(
    config: GatewayConfig,
    workers: number,
    logger: Logger,
    timeline: Timeline,
  ): Promise<GatewayWide> {
    const wide = new GatewayWide(config, workers, logger, timeline);
    wide.#warnSmallLimits(config);
    await wide.#apply(config, true);
    return wide;
  }

  /** What a forked worker starts with, besides the config: its slice, the health verdicts, open circuits and ejections now. */
  startOf(worker: Worker): {
    share: WorkerShare;
    health: HealthVerdict[];
    discovered: DiscoveryReport[];
    breakers: Announcement[];
  } {
    const taken = new Set(this.#slices.values());
    let index = 0;
    while (taken.has(index)) index++;
    this.#slices.set(worker, index);
    worker.once('exit', () => this.#slices.delete(worker));
    return {
      share: { index, of: this.#workers },
      health: this.#checks?.verdicts() ?? [],
      discovered: [...this.#discovered.values()],
      breakers: this.#breakers.now(primaryNow()),
    };
  }

  /** The first worker listens: the CA's validations can be answered, so orders may begin. */
  serving(): void {
    if (this.#serving) return;
    this.#serving = true;
    this.#https?.start();
  }

  /** Each certificate ordered by ACME, for /status. */
  certificates(): CertificateStatus[] | undefined {
    return this.#https?.status();
  }

  #automaticHttps(config: GatewayConfig): AutomaticHttps | undefined {
    return createAutomaticHttps(config, this.#logger, {
      order: true,
      told: (name) => {
        const message: SharedToWorker = { candor: 'acme-issued', name };
        for (const worker of this.#live()) worker.send(message);
      },
      ordered: (outcome) => {
        countAcmeOrder(outcome);
        const message: SharedToWorker = { candor: 'acme-ordered', outcome };
        this.#counter()?.send(message);
      },
    });
  }

  /** A reload swapped the config in force. */
  configChanged(config: GatewayConfig): void {
    this.#applying = this.#applying
      .then(() => this.#apply(config))
      .catch((err: Error) =>
        this.#logger.error({ err: err.message }, 'the primary could not apply the reloaded config'),
      );
    this.#warnSmallLimits(config);
  }

  /**
   * Brings every part in line with `config`: a part the config uses is loaded and made the
   * first time (from then on it follows each config, as a reload that drops every health check
   * must still tell the workers that their targets are back in rotation); one it has never
   * used is never loaded.
   */
  async #apply(config: GatewayConfig, first = false): Promise<void> {
    const upstreams = Object.values(config.upstreams);
    const [rates, discoveries, checks] = await Promise.all([
      this.#rates === undefined && config.routes.some((r) => r.rateLimit !== undefined)
        ? import('../../proxy/admit/gateway-rate-limits.ts')
        : undefined,
      this.#discoveries === undefined && upstreams.some((u) => u.discovery !== undefined)
        ? import('../../upstream/discovery/discoveries.ts')
        : undefined,
      this.#checks === undefined && upstreams.some((u) => u.healthCheck !== undefined)
        ? import('../../upstream/health/gateway-checks.ts')
        : undefined,
      loadAutomaticHttps(config),
    ]);
    const before = this.#config;
    this.#config = config;
    const found = first ? undefined : this.#found(before);
    // As the workers do (gateway-reload.ts): an upstream given discovery back waits for its own answer.
    this.#forget?.(config, this.#discovered);
    if (found !== undefined) {
      this.#breakers.reloaded(found, this.#found(config));
      this.#returns.reloaded(found, this.#found(config));
    }
    this.#https = first
      ? this.#automaticHttps(config)
      : replaceHttps(this.#https, before, config, () => this.#automaticHttps(config), this.#serving);
    if (this.#rates) this.#rates.update(config);
    else if (rates) this.#rates = new rates.GatewayRateLimits(config, rates.earlyDropLines(this.#logger));
    if (this.#discoveries) this.#discoveries.update(config);
    else if (discoveries) {
      this.#withDiscovered = discoveries.withDiscovered;
      this.#forget = discoveries.forgetUndiscovered;
      this.#discoveries = new discoveries.Discoveries(config, this.#logger, (report, outcome) =>
        this.#onDiscovery(report, outcome),
      );
    }
    if (this.#checks) this.#checks.update(this.#found(config));
    else if (checks) {
      this.#checks = new checks.GatewayChecks(
        this.#found(config),
        this.#logger,
        (verdicts, probe) => this.#publish(verdicts, probe),
        (transition) => this.#timeline.record({ kind: 'health', ...transition }),
        {
          healthChecked: (...args) => this.#countEarly({ metric: 'healthChecked', args, times: 1 }),
          healthTransition: (...args) => this.#countEarly({ metric: 'healthTransition', args, times: 1 }),
          returned: () => {},
        },
      );
      if (this.#changes) this.#checks.applyChanges(this.#changes);
    }
  }

  /** The config with each discovered upstream's targets as DNS last answered (discoveries.ts). */
  withDiscovered(config: GatewayConfig): GatewayConfig {
    return this.#found(config);
  }

  #found(config: GatewayConfig): GatewayConfig {
    return this.#withDiscovered?.(config, this.#discovered) ?? config;
  }

  /** A `max_in_flight` below the worker count leaves some workers a share of 0: they shed everything. */
  #warnSmallLimits(config: GatewayConfig): void {
    const small = [
      ...config.listen.map((l) => ({ what: `listener ${l.address}`, max: l.maxInFlight })),
      ...config.routes.map((r) => ({ what: `route "${r.name}"`, max: r.maxInFlight })),
    ].filter((l) => l.max !== undefined && l.max < this.#workers);
    for (const { what, max } of small)
      this.#logger.warn(
        { limit: what, max_in_flight: max, workers: this.#workers },
        'max_in_flight is split among the workers and is below their number: some workers will shed every request',
      );
  }

  /** The admin API changed a target's state: a disabled target is not probed. */
  changesChanged(changes: RuntimeChanges): void {
    this.#changes = changes;
    this.#checks?.applyChanges(changes);
  }

  async stop(): Promise<void> {
    await this.#applying;
    this.#https?.stop();
    this.#discoveries?.stop();
    await this.#checks?.stop();
  }

  /**
   * A DNS answer (or failure): every worker gets it, one counts it; a changed set also moves
   * the health checks to the new targets (those that stay keep their verdicts).
   */
  #onDiscovery(report: DiscoveryReport, outcome: DiscoveryOutcome): void {
    if (outcome === 'changed')
      this.#timeline.record({
        kind: 'discovery',
        upstream: report.upstream,
        ...targetMoves(this.#discovered.get(report.upstream)?.targets ?? [], report.targets),
      });
    const before = this.#found(this.#config);
    this.#discovered.set(report.upstream, report);
    if (outcome === 'changed') {
      this.#breakers.reloaded(before, this.#found(this.#config));
      this.#returns.reloaded(before, this.#found(this.#config));
      this.#checks?.update(this.#found(this.#config));
    }
    const counter = this.#counter();
    if (counter === undefined)
      this.#countEarly({ metric: 'discovered', args: [report.upstream, outcome, report.failure], times: 1 });
    for (const worker of this.#live()) {
      const message: SharedToWorker = { candor: 'discovery', report, outcome, count: worker === counter };
      worker.send(message);
    }
  }

  /** The worker that counts what the primary does (the lowest slice serving), so merged metrics count it once. */
  #counter(): Worker | undefined {
    let counter: Worker | undefined;
    for (const [worker, slice] of this.#slices)
      if (
        worker.isConnected() &&
        this.#servingWorkers.has(worker) &&
        (counter === undefined || slice < (this.#slices.get(counter) ?? 0))
      )
        counter = worker;
    return counter;
  }

  /** A count of the primary's, kept while no worker serves to count it (the checks call it for every probe). */
  #countEarly(count: EarlyCount): void {
    if (this.#counter() !== undefined) return;
    const key = JSON.stringify([count.metric, count.args]);
    const kept = this.#early.get(key);
    this.#early.set(key, kept === undefined ? count : { ...kept, times: kept.times + count.times });
  }

  /** A worker serves: the first to, the counts kept for it. */
  #served(worker: Worker): void {
    this.#servingWorkers.add(worker);
    const counter = this.#counter();
    if (this.#early.size === 0 || counter === undefined) return;
    const message: SharedToWorker = { candor: 'early-counts', counts: [...this.#early.values()] };
    this.#early.clear();
    counter.send(message);
  }

  #live(): Worker[] {
    return [...this.#slices.keys()].filter((w) => w.isConnected());
  }

  /**
   * Every worker applies each verdict; one of them (the lowest slice alive) also counts the
   * probe, so the merged metrics count each probe once.
   */
  #publish(verdicts: HealthVerdict[], probe: boolean): void {
    const counter = probe ? this.#counter() : undefined;
    for (const worker of this.#live()) {
      const message: SharedToWorker = { candor: 'health', verdicts, count: worker === counter };
      worker.send(message);
    }
  }
}

/**
 * The primary's monotonic clock in ms: process.uptime(), not performance.now(), whose global loads
 * node:perf_hooks, half a MiB of a primary that needs no other part of it (workers.ts).
 */
function primaryNow(): number {
  return process.uptime() * 1000;
}
