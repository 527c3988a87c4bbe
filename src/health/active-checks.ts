import type { Logger } from '../log/logger.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { TargetState } from '../upstream/target-state.ts';
import type { Target, Upstream } from '../upstream/upstream.ts';
import { type ProbeResult, type RunningProbe, startProbe } from './probe.ts';

export type { ProbeFailure, ProbeResult } from './probe.ts';

/** The active health checks of one upstream, running. */
export interface ActiveChecks {
  /** Stops probing: no probe starts after this, the one in flight is abandoned and its connection closed. */
  stop(): Promise<void>;
}

/** Each target's last probe, for the admin view (a WeakMap: a target dropped by a reload takes its result along). */
const lastResults = new WeakMap<TargetState, ProbeResult>();

/** The last probe of this target, or undefined before the first one ends (or without checks). */
export function lastProbe(target: TargetState): ProbeResult | undefined {
  return lastResults.get(target);
}

const NO_CHECKS: ActiveChecks = { stop: async () => {} };

/**
 * Active health checks (the upstream's `health_check`): each target is probed on a timer;
 * `fall` failures in a row take it out of rotation (`checkedHealthy = false`), `rise`
 * successes in a row bring it back through slow start (`inRotationSince`). Targets start in
 * rotation. The balancer reads the verdict from the shared TargetState; only transitions are
 * logged.
 *
 * The next probe of a target is due `interval` after the previous one ended (as in Envoy and
 * HAProxy), so two probes of one target never overlap, whatever the timeout. First probes are
 * spread over one interval so N targets are not probed at the same instant. Every timer is
 * unref'd: health checks never keep a process alive.
 *
 * @example
 * const checks = startActiveChecks(upstream, logger, metrics);
 * // ... later, on shutdown or reload:
 * await checks.stop();
 */
export function startActiveChecks(upstream: Upstream, logger: Logger, metrics: GatewayMetrics): ActiveChecks {
  const check = upstream.config.healthCheck;
  if (!check) return NO_CHECKS;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<RunningProbe>();

  const schedule = (target: Target, counts: Counts, delay: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void probe(target, counts);
    }, delay);
    timer.unref();
    timers.add(timer);
  };

  const probe = async (target: Target, counts: Counts): Promise<void> => {
    if (stopped) return;
    const probing = startProbe(target.config, check, upstream.connect);
    running.add(probing);
    const result = await probing.result;
    running.delete(probing);
    if (stopped) return;
    record(upstream, target, counts, result, logger, metrics);
    schedule(target, counts, check.interval);
  };

  upstream.targets.forEach((target, index) => {
    schedule(target, { successes: 0, failures: 0 }, (check.interval * index) / upstream.targets.length);
  });

  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...running].map((p) => p.cancel()));
    },
  };
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
  metrics: GatewayMetrics,
): void {
  const check = upstream.config.healthCheck;
  if (!check) return;
  lastResults.set(target, result);
  const fields = { upstream: upstream.name, target: target.config.origin };
  metrics.healthChecked(fields.upstream, fields.target, result.ok, result.failure?.type ?? '');
  if (result.ok) {
    counts.failures = 0;
    counts.successes++;
    if (!target.checkedHealthy && counts.successes >= check.rise) {
      target.checkedHealthy = true;
      // Back through slow start: the balancer grows its share from here.
      target.inRotationSince = result.at;
      metrics.healthTransition(fields.upstream, fields.target, 'healthy');
      logger.info({ ...fields, consecutive: counts.successes, ms: result.ms }, 'target up');
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
