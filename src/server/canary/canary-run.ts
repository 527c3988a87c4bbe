import type { CanaryConfig, SplitSide } from '../../core/config/types.ts';
import type { CanaryAction } from '../../observe/events/gateway-event.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { CanaryVerdictCount } from '../../observe/metrics/metrics.ts';
import type { WindowCounts } from '../../upstream/canary/canary-window.ts';
import type { Judgement, MetricVerdict } from '../../upstream/canary/judge.ts';
import type { Look, StepLooks } from '../../upstream/canary/step-looks.ts';
import type { CanaryEventSink } from './canary-event.ts';
import type { CanaryPhase, FleetState } from './canary-fleet.ts';

// A canary's run: what the controller keeps of each route's canary (Run), how it is shown
// (CanaryStatus), and the small rules every layer of the controller reads it by.

/** What the controller needs from the gateway it runs in (the cluster primary, or a fleet's leader). */
export interface CanaryHost {
  /** The route's counts since the last call, every worker's (every gateway's, with a store) merged. */
  window(route: string): Promise<WindowCounts | undefined>;
  /** Gives the route's sides these weights in every worker; the verdict is for the workers' metric. */
  setSides(route: string, sides: readonly SplitSide[], verdict?: CanaryVerdictCount): Promise<void>;
  readonly logger: Logger;
  readonly onEvent: CanaryEventSink;
}

/** A canary's state as GET /canary and the status page show it. */
export interface CanaryStatus {
  readonly route: string;
  readonly baseline: string;
  readonly canary: string;
  readonly phase: CanaryPhase;
  /** The canary's share now, in percent. */
  readonly share: number;
  /** 1-based; 0 before the first. */
  readonly step: number;
  readonly steps: readonly number[];
  readonly started_at: string;
  /** Why the canary stopped (the failing metric with both figures and the p-value, or who did it). */
  readonly reason: string | null;
  /** The metric a verdict stopped the canary on (rolled back or paused); null otherwise. */
  readonly failed_metric: string | null;
  /** The last look at the step's counts so far (judged, or still short of requests). */
  readonly last_verdict: {
    readonly at: string;
    /** Which look of the step it was (one each check_interval), of the step's planned looks. */
    readonly look: number;
    readonly looks: number;
    readonly decided: boolean;
    readonly requests: { canary: number; baseline: number };
    /** Not judged for want of the canary's answers (latency compared): how many it gave. */
    readonly answers?: number;
    readonly metrics: readonly MetricVerdict[];
  } | null;
  /** The latest actions, newest last (bounded). */
  readonly actions: readonly { at: string; action: CanaryAction; who: string; summary: string }[];
  /**
   * In a fleet, why its store (`store.redis`) does not answer, while it does not: this gateway
   * then keeps its state on its own (and rolls back at max_duration); null otherwise.
   */
  readonly fleet_error: string | null;
}

export const ACTIONS_KEPT = 20;

export interface Run {
  readonly route: string;
  readonly baseline: string;
  readonly config: CanaryConfig;
  /** Set through toPhase only: it keeps the time the canary ran (ranMs, runningSince). */
  phase: CanaryPhase;
  /** Index into config.steps; -1 before the first step. */
  step: number;
  share: number;
  startedAt: number;
  /**
   * Milliseconds the canary ran (phase running) since it started, up to its last pause: what
   * max_duration bounds, so a pause, however long, is not held against it once started again.
   */
  ranMs: number;
  /** When it last went running (performance.now()); read only while running. */
  runningSince: number;
  /** The current step's counts and looks (a new one at each step). */
  looks: StepLooks;
  reason: string | null;
  failedMetric: string | null;
  last: CanaryStatus['last_verdict'];
  actions: { at: string; action: CanaryAction; who: string; summary: string }[];
  timer: NodeJS.Timeout | undefined;
  /** A tick in progress: an action waits for it, so a verdict and a click never cross. */
  busy: Promise<void>;
  /** The version of the fleet's state this run holds (adopted or written by it); 0 before any. */
  seq: number;
  /** The canary's settings and targets, hashed (canary-version.ts): a state of another is not joined. */
  readonly version: string;
  /** Its state changed here and was not written to the fleet (the store did not answer): written at the next look. */
  unshared: boolean;
  /** The writes to the fleet, one after the other; resolves to the outcome of the latest. */
  publishing: Promise<Published>;
  /** Why the fleet's store does not answer, while it does not (CanaryStatus.fleet_error). */
  fleetError: string | null;
}

/** Why an operator's write was refused: another gateway's state reached the fleet first. */
export function movedFirst(run: Run): string {
  return `the fleet's canary of route "${run.route}" changed on another gateway meanwhile (now ${run.phase} at ${run.share}%)`;
}

/** What became of a state written to the fleet: written, refused (the fleet moved first), or not sent. */
export type Published = 'written' | 'moved' | 'failed' | 'none';

/**
 * A share set by hand, once the fleet answered (CanaryController.byHand): taken, refused
 * (`moved`: why, for a 409), or in force on this gateway only (`unshared`: the store's error).
 */
export type ByHand =
  | { readonly status: CanaryStatus }
  | { readonly moved: string; readonly status: CanaryStatus }
  | { readonly unshared: string; readonly status: CanaryStatus };

/** The one writer of a run's phase: the time it ran is kept as it goes running and stops. */
export function toPhase(run: Run, phase: CanaryPhase): void {
  const now = performance.now();
  if (run.phase === 'running' && phase !== 'running') run.ranMs += now - run.runningSince;
  else if (run.phase !== 'running' && phase === 'running') run.runningSince = now;
  run.phase = phase;
}

/** Milliseconds the canary ran since it started (see Run.ranMs). */
export function ranFor(run: Run, now: number): number {
  return run.ranMs + (run.phase === 'running' ? now - run.runningSince : 0);
}

export function sidesOf(run: Run, share: number): SplitSide[] {
  const [canary, baseline] = wholeWeights(share);
  return [
    { upstream: run.config.upstream, weight: canary },
    { upstream: run.baseline, weight: baseline },
  ];
}

/**
 * Whole weights (0–1000 each, what a split takes: weightProblem) that give `share` percent. A
 * step's share is a whole percent; one set by hand need not be (weights 1 and 2: 33.33 %, as
 * byHand rounds it), and sent as it is every worker refused it: a canary paused so and then
 * restarted (its kept verdict), or one a gateway adopted from its fleet, failed to start and
 * said "running at 0%". The smallest pair of weights that byHand would show as that share (1
 * and 2 again), or else parts of 1,000, the nearest the weights can say.
 */
function wholeWeights(share: number): [number, number] {
  if (Number.isInteger(share)) return [share, 100 - share];
  for (let total = 2; total <= 2000; total++) {
    const canary = Math.round((share * total) / 100);
    if (canary > 1000 || total - canary > 1000) continue;
    if (Math.round((10_000 * canary) / total) / 100 === share) return [canary, total - canary];
  }
  const parts = Math.round(share * 10);
  return [parts, 1000 - parts];
}

export function lastVerdict(judged: Judgement, look: Look): CanaryStatus['last_verdict'] {
  return {
    at: new Date().toISOString(),
    look: look.index,
    looks: look.planned,
    decided: judged.decided,
    requests: judged.requests,
    ...(judged.decided || judged.answers === undefined ? {} : { answers: judged.answers }),
    metrics: judged.decided ? judged.metrics : [],
  };
}

/** A run as GET /canary and the status page show it. */
export function canaryStatusOf(run: Run): CanaryStatus {
  return {
    route: run.route,
    baseline: run.baseline,
    canary: run.config.upstream,
    phase: run.phase,
    share: run.share,
    step: run.step + 1,
    steps: run.config.steps,
    started_at: new Date(run.startedAt).toISOString(),
    reason: run.reason,
    failed_metric: run.failedMetric,
    last_verdict: run.last,
    actions: run.actions,
    fleet_error: run.fleetError,
  };
}

/** What the fleet's store (and the gateway's own disk) keeps of a run: its canary, version, phase, step, share and why. */
export function sharedState(run: Run): Omit<FleetState, 'seq'> {
  return {
    canary: run.config.upstream,
    of: run.version,
    phase: run.phase,
    step: run.step,
    share: run.share,
    reason: run.reason,
    failedMetric: run.failedMetric,
  };
}
