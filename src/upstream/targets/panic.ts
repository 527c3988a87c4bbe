import type { TargetState } from './target-state.ts';
import { healthyEnough, tiersOf } from './tiers.ts';

/** What a re-evaluation changed, for the one log line per transition. */
type PanicTransition = 'entered' | 'left';

/**
 * Envoy's panic threshold, applied to active health checks: when fewer than `threshold`
 * percent of the targets pass their checks, the checks are more likely wrong than the
 * targets (a health path with a dependency of its own, a misconfigured path, a deploy that
 * broke only the probe), and 503 for every request would be the gateway's own outage. In
 * panic the balancer ignores the checks' verdict and spreads over every target.
 *
 * The checks' verdict is what panic ignores. Passive ejection and the circuit breaker judge
 * real requests, not a probe: a target they took out failed actual traffic. Ejection has its
 * own bound (`max_ejected_percent`, but always one target), and when it leaves no target at
 * all the balancer falls back on the ejected ones (isOnlyEjected, with a threshold above 0).
 *
 * With target priorities the threshold is judged per tier (tiers.ts): the upstream is in panic
 * only when every tier is below it.
 *
 * The state changes only when a target's check verdict does (see health/active-checks.ts),
 * never per request, so entering and leaving are each logged once.
 */
export class Panic {
  /** Percent of targets passing their checks below which the upstream is in panic; 0: never (a reload may change it). */
  threshold: number;
  #active = false;
  #since: number | undefined;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  /** The balancer ignores the health checks' verdict. */
  get active(): boolean {
    return this.#active;
  }

  /** When the panic began (monotonic ms, performance.now()); undefined when not in panic. */
  get since(): number | undefined {
    return this.#since;
  }

  /**
   * Re-reads the targets' check verdicts; returns the transition this made, if any. With
   * priorities, the threshold holds per tier and the upstream panics only when every tier is
   * below it: a tier of healthy backups takes the traffic instead (see tiers.ts).
   */
  update(targets: readonly TargetState[], now: number): PanicTransition | undefined {
    const panic =
      targets.length > 0 && !tiersOf(targets).list.some((tier) => healthyEnough(tier, this.threshold));
    if (panic === this.#active) return undefined;
    this.#active = panic;
    this.#since = panic ? now : undefined;
    return panic ? 'entered' : 'left';
  }
}
