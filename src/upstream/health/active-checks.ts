import { logMs } from '../../observe/log/duration.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { Target, Upstream } from '../targets/upstream.ts';
import { unejectedByProbe } from './outlier.ts';
import { type ProbeResult, type RunningProbe, startProbe } from './probe.ts';
import { type ReturnSinks, tellReturn } from './report-outcome.ts';

export type { ProbeFailure, ProbeResult } from './probe.ts';

/** The active health checks of one upstream, running. */
export interface ActiveChecks {
  /**
   * A reload rebuilt the upstream (same name): targets still named keep their probe loop and
   * their counts in a row, removed ones stop, new ones start; a changed health_check applies
   * from each target's next probe; a removed one stops them all and puts every target back
   * in rotation (without checks, nothing says they are down).
   */
  update(upstream: Upstream): void;
  /** Stops probing: no probe starts after this, the one in flight is abandoned and its connection closed. */
  stop(): Promise<void>;
}

/** One target's active-check state, as a cluster primary (which alone probes) judged it. */
export interface HealthVerdict {
  readonly upstream: string;
  readonly origin: string;
  readonly healthy: boolean;
  /** The last probe, its `at` on the primary's clock: a receiver dates it with its own (see ageMs). */
  readonly result?: ProbeResult;
  /** How long before sending the probe ended. */
  readonly ageMs?: number;
}

/** What the checks count: a cluster primary, which keeps no registry, counts nothing here (see applyVerdict). */
export type HealthMetrics = Pick<GatewayMetrics, 'healthChecked' | 'healthTransition' | 'returned'>;

/** One target's probe loop. */
interface TargetLoop {
  readonly counts: Counts;
  timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (performance.now()). */
  dueAt: number;
  /** When its last probe ended (performance.now()); undefined before the first. */
  endedAt: number | undefined;
  running: RunningProbe | undefined;
  stopped: boolean;
}

/**
 * Active health checks (the upstream's `health_check`): each target is probed on a timer;
 * `fall` failures in a row take it out of rotation (`checkedHealthy = false`), `rise`
 * successes in a row bring it back through slow start (`inRotationSince`). Targets start in
 * rotation. The balancer reads the verdict from the shared TargetState; only transitions are
 * logged. A target the admin API disabled is not probed (its loop idles until enabled).
 *
 * The next probe of a target is due `interval` after the previous one ended (as in Envoy and
 * HAProxy), so two probes of one target never overlap, whatever the timeout. First probes are
 * spread over one interval so N targets are not probed at the same instant. Every timer is
 * unref'd: health checks never keep a process alive.
 *
 * @example
 * const checks = startActiveChecks(upstream, logger, metrics);
 * // ... on reload: checks.update(rebuiltUpstream); on shutdown:
 * await checks.stop();
 */
export function startActiveChecks(
  first: Upstream,
  logger: Logger,
  metrics: HealthMetrics,
  onRecorded: (upstream: Upstream, target: Target, result: ProbeResult) => void = () => {},
): ActiveChecks {
  const checks = new ProbeLoops(first, logger, metrics, onRecorded);
  checks.update(first);
  return checks;
}

/** Each target's probe loop, by target, for the upstream of now. */
class ProbeLoops implements ActiveChecks {
  #upstream: Upstream;
  readonly #loops = new Map<Target, TargetLoop>();
  /** The interval the pending timers were set with (undefined: no checks). */
  #interval: number | undefined;
  readonly #logger: Logger;
  readonly #metrics: HealthMetrics;
  readonly #onRecorded: (upstream: Upstream, target: Target, result: ProbeResult) => void;

  constructor(
    first: Upstream,
    logger: Logger,
    metrics: HealthMetrics,
    onRecorded: (upstream: Upstream, target: Target, result: ProbeResult) => void,
  ) {
    this.#upstream = first;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#onRecorded = onRecorded;
  }

  update(next: Upstream): void {
    this.#upstream = next;
    const check = next.config.healthCheck;
    next.hold.probeNow = check ? this.#probeNow : undefined;
    const keep = new Set(check ? next.targets : []);
    for (const [target, loop] of this.#loops) {
      if (keep.has(target)) continue;
      this.#loops.delete(target);
      void stopLoop(loop);
      if (!check) target.checkedHealthy = true;
    }
    // Verdicts change panic only when they change, but a reload changes what they are read
    // against (the targets named, the threshold, the checks themselves): read it again now.
    updatePanic(next, performance.now(), this.#logger);
    const interval = this.#interval;
    this.#interval = check?.interval;
    if (!check) return;
    if (interval !== undefined && interval !== check.interval) this.#reschedule(check.interval);
    const fresh = next.targets.filter((t) => !this.#loops.has(t));
    fresh.forEach((target, index) => {
      const loop: TargetLoop = {
        counts: { successes: 0, failures: 0 },
        timer: undefined,
        dueAt: 0,
        endedAt: undefined,
        running: undefined,
        stopped: false,
      };
      this.#loops.set(target, loop);
      this.#schedule(target, loop, (check.interval * index) / fresh.length);
    });
  }

  async stop(): Promise<void> {
    if (this.#upstream.hold.probeNow === this.#probeNow) this.#upstream.hold.probeNow = undefined;
    const all = [...this.#loops.values()];
    this.#loops.clear();
    await Promise.all(all.map(stopLoop));
  }

  /**
   * A reload changed the interval: each pending probe is moved to the new interval after its
   * target's last probe ended (a first probe not yet made, to no later than one new interval
   * from now). Left where the old interval put it, a target taken down under `interval: 1h`
   * and reloaded to `5s` waited up to the hour, while its 503s' Retry-After, reckoned from
   * the interval of now, said a few seconds.
   */
  #reschedule(interval: number): void {
    const now = performance.now();
    for (const [target, loop] of this.#loops) {
      if (loop.timer === undefined) continue; // a probe is out: the next is set when it ends
      const due = loop.endedAt === undefined ? Math.min(loop.dueAt, now + interval) : loop.endedAt + interval;
      clearTimeout(loop.timer);
      this.#schedule(target, loop, Math.max(0, due - now));
    }
  }

  #schedule(target: Target, loop: TargetLoop, delay: number): void {
    loop.dueAt = performance.now() + delay;
    loop.timer = setTimeout(() => {
      loop.timer = undefined;
      void this.#probe(target, loop);
    }, delay);
    loop.timer.unref();
  }

  async #probe(target: Target, loop: TargetLoop): Promise<void> {
    const upstream = this.#upstream;
    const check = upstream.config.healthCheck;
    if (loop.stopped || !check) return;
    if (target.admin === 'disabled') return this.#schedule(target, loop, check.interval);
    const probing = startProbe(target.config, check, upstream.connect, upstream.config.protocol);
    loop.running = probing;
    const result = await probing.result;
    loop.running = undefined;
    loop.endedAt = result.at;
    if (loop.stopped) return;
    // Read again: a reload while the probe was out made another upstream the one of now.
    const current = this.#upstream;
    record(current, target, loop.counts, result, this.#logger, this.#metrics);
    this.#onRecorded(current, target, result);
    this.#schedule(target, loop, current.config.healthCheck?.interval ?? check.interval);
    if (result.ok) heldMayGo(current, target, result.at, { metrics: this.#metrics, logger: this.#logger });
  }

  /**
   * Requests wait for a target (the upstream's `hold`): every target not being probed is
   * probed now, not at its next interval. Each request held asks; a target has one probe in
   * flight at most, so a storm of refusals costs one probe per target at a time. One function
   * for the checks' life: stop() takes it back from the upstream only if it is still this one.
   */
  readonly #probeNow = (): void => {
    for (const [target, loop] of this.#loops) {
      if (loop.running !== undefined || loop.stopped || loop.timer === undefined) continue;
      clearTimeout(loop.timer);
      loop.timer = undefined;
      void this.#probe(target, loop);
    }
  };
}

function stopLoop(loop: TargetLoop): Promise<void> {
  loop.stopped = true;
  clearTimeout(loop.timer);
  return loop.running?.cancel() ?? Promise.resolve();
}

/**
 * A probe passed: requests waiting for the upstream (or, for another side of their split, watching it) go now (a target still short of `rise`
 * is not picked, and they wait again, asking for the next probe at once), and the target's
 * ejection ends if it had one (outlier.ts, unejectedByProbe).
 */
function heldMayGo(upstream: Upstream, target: Target, now: number, returns?: ReturnSinks): void {
  if (!upstream.hold.wanted) return;
  // Its ejection was logged and counted (report-outcome.ts): so is its end, as when a request's success ends it.
  if (unejectedByProbe(target, now) && returns !== undefined) tellReturn(returns, upstream, target, 'check');
  upstream.hold.targetBack();
}

/** Probe outcomes in a row, of one target. */
interface Counts {
  successes: number;
  failures: number;
}

/** Applies one probe's outcome to the target's state, logging a transition once. */
function record(
  upstream: Upstream,
  target: Target,
  counts: Counts,
  result: ProbeResult,
  logger: Logger,
  metrics: HealthMetrics,
): void {
  const check = upstream.config.healthCheck;
  if (!check) return;
  target.lastProbe = result;
  const fields = { upstream: upstream.name, target: target.config.origin };
  metrics.healthChecked(fields.upstream, fields.target, result.ok, result.failure?.type ?? '');
  // A probe the gateway's own machine could not make (no file descriptor or local port left:
  // proxy_resources_exhausted) asked the target nothing: counted neither way, as a request's
  // is judged against no target. Counted as a fall, it took healthy targets down for the
  // gateway's own want ("target down", then 503 destination_unavailable until `rise` probes).
  if (failedHere(result)) return;
  if (result.ok) {
    counts.failures = 0;
    counts.successes++;
    if (!target.checkedHealthy && counts.successes >= check.rise) {
      target.checkedHealthy = true;
      // Back through slow start: the balancer grows its share from here.
      target.inRotationSince = result.at;
      logger.info({ ...fields, consecutive: counts.successes, ms: logMs(result.ms) }, 'target up');
      metrics.healthTransition(fields.upstream, fields.target, 'healthy');
      updatePanic(upstream, result.at, logger);
    }
    return;
  }
  counts.successes = 0;
  counts.failures++;
  const failure = result.failure;
  // An unexpected status is the upstream's own answer, not a failure type of the taxonomy:
  // lastFailure (typed by the taxonomy) keeps the last classified one.
  if (failure && failure.type !== 'unexpected_status') {
    target.lastFailure = { type: failure.type, at: result.at };
  }
  if (target.checkedHealthy && counts.failures >= check.fall) {
    target.checkedHealthy = false;
    metrics.healthTransition(fields.upstream, fields.target, 'unhealthy');
    logger.warn(
      {
        ...fields,
        error: failure?.type,
        shape: failure?.shape,
        details: failure?.details,
        ...(result.status === undefined ? {} : { status: result.status }),
        consecutive: counts.failures,
      },
      'target down',
    );
    updatePanic(upstream, result.at, logger);
  }
}

/** The probe failed on the gateway's own side (shape `gateway`): nothing was asked of the target. */
function failedHere(result: ProbeResult): boolean {
  return result.failure?.shape === 'gateway';
}

/**
 * A cluster worker's side of the checks: the primary probed (once for the whole gateway) and
 * judged, and this applies its verdict to the worker's own TargetState, the way record()
 * would have: a target back in rotation goes through slow start from now, the panic state is
 * re-read. The primary logged the transition; `metrics` is given to the one worker that
 * counts the probe, so the merged counters count it once. `returns`: where an ejection the
 * verdict ends is told (every worker's, through the primary). Times are this process's own.
 */
export function applyVerdict(
  upstream: Upstream,
  target: Target,
  verdict: Pick<HealthVerdict, 'healthy' | 'result' | 'ageMs'>,
  now: number,
  metrics: HealthMetrics | undefined,
  returns?: ReturnSinks,
): void {
  const fields = { upstream: upstream.name, target: target.config.origin };
  if (verdict.result !== undefined) {
    const result = { ...verdict.result, at: now - (verdict.ageMs ?? 0) };
    target.lastProbe = result;
    metrics?.healthChecked(fields.upstream, fields.target, result.ok, result.failure?.type ?? '');
    const failure = result.failure;
    if (failure && failure.type !== 'unexpected_status' && !failedHere(result))
      target.lastFailure = { type: failure.type, at: result.at };
  }
  // Requests in this upstream's line, or watching it from another side's (heldMayGo reads both).
  const held = verdict.result?.ok === true && upstream.hold.wanted;
  if (target.checkedHealthy === verdict.healthy) {
    if (held) heldMayGo(upstream, target, now, returns);
    return;
  }
  target.checkedHealthy = verdict.healthy;
  if (verdict.healthy) target.inRotationSince = now;
  // Only a probe's verdict is counted as a transition; a snapshot (a worker starting) is not.
  if (verdict.result !== undefined)
    metrics?.healthTransition(fields.upstream, fields.target, verdict.healthy ? 'healthy' : 'unhealthy');
  upstream.panic.update(upstream.targets, now);
  if (held) heldMayGo(upstream, target, now, returns);
}

/**
 * A cluster primary's verdicts, applied to the targets of this worker's snapshot they name. A
 * target not (yet) in it is skipped: the cluster link keeps the verdict for the snapshot a
 * reload builds.
 */
export function applyVerdicts(
  upstreams: ReadonlyMap<string, Upstream>,
  verdicts: readonly HealthVerdict[],
  now: number,
  metrics: HealthMetrics | undefined,
  returns?: ReturnSinks,
): void {
  for (const verdict of verdicts) {
    const upstream = upstreams.get(verdict.upstream);
    const target = upstream?.targets.find((t) => t.config.origin === verdict.origin);
    if (upstream && target) applyVerdict(upstream, target, verdict, now, metrics, returns);
  }
}

/**
 * Re-reads the upstream's panic state after a target's verdict changed (the only time it can
 * change), logging entering and leaving panic once each.
 */
function updatePanic(upstream: Upstream, now: number, logger: Logger): void {
  const transition = upstream.panic.update(upstream.targets, now);
  if (transition === undefined) return;
  const fields = {
    upstream: upstream.name,
    passing: upstream.targets.filter((t) => t.checkedHealthy).length,
    targets: upstream.targets.length,
    panic_threshold: upstream.panic.threshold,
  };
  if (transition === 'entered') logger.warn(fields, 'upstream panic');
  else logger.info(fields, 'upstream panic over');
}
