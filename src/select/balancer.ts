import type { BalancerKind, TargetConfig } from '../config/types.ts';

/** A target as the balancer sees it: its config plus live counters. */
export interface TargetState {
  readonly config: TargetConfig;
  /** Requests in flight to this target. */
  active: number;
}

export interface Balancer<T extends TargetState = TargetState> {
  pick(): T | undefined;
}

/**
 * Smooth weighted round robin (each pick adds every target's weight to its credit, the
 * richest wins and pays the total): spreads a 3:1 weighting as a,a,b,a rather than a,a,a,b.
 */
function createRoundRobin<T extends TargetState>(targets: readonly T[]): Balancer<T> {
  if (targets.length === 1) return { pick: () => targets[0] };
  const credit = new Array<number>(targets.length).fill(0);
  const total = targets.reduce((sum, t) => sum + t.config.weight, 0);
  return {
    pick() {
      let best = 0;
      for (let i = 0; i < targets.length; i++) {
        credit[i] += targets[i].config.weight;
        if (credit[i] > credit[best]) best = i;
      }
      credit[best] -= total;
      return targets[best];
    },
  };
}

/** Fewest in-flight requests relative to weight; ties go round robin so idle pools still spread. */
function createLeastConn<T extends TargetState>(targets: readonly T[]): Balancer<T> {
  let next = 0;
  return {
    pick() {
      let best: T | undefined;
      let bestLoad = Number.POSITIVE_INFINITY;
      for (let n = 0; n < targets.length; n++) {
        const target = targets[(next + n) % targets.length];
        const load = target.active / target.config.weight;
        if (load < bestLoad) {
          best = target;
          bestLoad = load;
        }
      }
      next = (next + 1) % targets.length;
      return best;
    },
  };
}

export function createBalancer<T extends TargetState>(
  kind: BalancerKind,
  targets: readonly T[],
): Balancer<T> {
  return kind === 'least_conn' ? createLeastConn(targets) : createRoundRobin(targets);
}
