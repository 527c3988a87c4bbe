import type { BalancerKind } from '../../core/config/types.ts';
import type { Balancer } from './balancer-contract.ts';
import { createHashBalancer } from './hash-ring.ts';
import { effectiveWeight, isAvailable, isOnlyEjected, type TargetState } from './target-state.ts';

export type { Balancer } from './balancer-contract.ts';
export { TargetState } from './target-state.ts';

/** What the balancer needs to know beyond the targets themselves. */
interface BalancerPolicy {
  /** Slow-start window in ms (0: off). */
  readonly slowStart: number;
  /** Probe requests a half-open target may take at once. */
  readonly halfOpenProbes: number;
  /**
   * The upstream's panic state, read at each pick: in panic, health checks are ignored; with a
   * threshold above 0, ejections are too when they leave no target (isOnlyEjected).
   */
  readonly panic?: { readonly active: boolean; readonly threshold: number };
}

/** The balancer kinds, in the order the README lists them. */
export const BALANCER_KINDS = [
  'round_robin',
  'least_conn',
  'hash',
] as const satisfies readonly BalancerKind[];

/** The targets a pick may choose from: available ones, preferring those not tried yet. */
function candidates<T extends TargetState>(
  targets: readonly T[],
  now: number,
  policy: BalancerPolicy,
  exclude: readonly T[] | undefined,
): T[] {
  const panic = policy.panic?.active ?? false;
  let all = true;
  for (let i = 0; i < targets.length && all; i++)
    all = isAvailable(targets[i], now, policy.halfOpenProbes, panic);
  const nothingExcluded = !exclude || exclude.length === 0;
  // The common case allocates nothing: every target in rotation, first attempt. (The filters
  // are another function's: their closures' context, made on entry, was 65 bytes a request.)
  if (all && nothingExcluded) return targets as T[];
  return narrowed(targets, now, policy, panic, all, nothingExcluded ? undefined : exclude);
}

/** candidates() when a target is out of rotation or one was tried already. */
function narrowed<T extends TargetState>(
  targets: readonly T[],
  now: number,
  policy: BalancerPolicy,
  panic: boolean,
  all: boolean,
  exclude: readonly T[] | undefined,
): T[] {
  const available = (t: T) => isAvailable(t, now, policy.halfOpenProbes, panic);
  let inRotation = all ? (targets as T[]) : targets.filter(available);
  if (inRotation.length === 0 && (policy.panic?.threshold ?? 0) > 0)
    inRotation = targets.filter((t) => isOnlyEjected(t, now, panic));
  if (exclude === undefined) return inRotation;
  const fresh = inRotation.filter((t) => !exclude.includes(t));
  return fresh.length > 0 ? fresh : inRotation;
}

/**
 * Smooth weighted round robin (each pick adds every candidate's weight to its credit, the
 * richest wins and pays the total): spreads a 3:1 weighting as a,a,b,a rather than a,a,a,b.
 * Weights are read per pick, so slow start and ejections take effect at once.
 */
function createRoundRobin<T extends TargetState>(targets: readonly T[], policy: BalancerPolicy): Balancer<T> {
  const credit = new Map<T, number>(targets.map((t) => [t, 0]));
  return {
    pick(now, exclude) {
      const pool = candidates(targets, now, policy, exclude);
      if (pool.length <= 1) return pool[0];
      let best: T | undefined;
      let total = 0;
      for (const target of pool) {
        const weight = effectiveWeight(target, now, policy.slowStart);
        total += weight;
        const c = (credit.get(target) ?? 0) + weight;
        credit.set(target, c);
        if (best === undefined || c > (credit.get(best) ?? 0)) best = target;
      }
      if (best) credit.set(best, (credit.get(best) ?? 0) - total);
      return best;
    },
    inRotation: (now) => candidates(targets, now, policy, undefined),
  };
}

/** Fewest in-flight requests relative to (effective) weight; ties go round robin so idle pools still spread. */
function createLeastConn<T extends TargetState>(targets: readonly T[], policy: BalancerPolicy): Balancer<T> {
  let next = 0;
  return {
    pick(now, exclude) {
      const pool = candidates(targets, now, policy, exclude);
      let best: T | undefined;
      let bestLoad = Number.POSITIVE_INFINITY;
      for (let n = 0; n < pool.length; n++) {
        const target = pool[(next + n) % pool.length];
        const load = (target.active.count + 1) / effectiveWeight(target, now, policy.slowStart);
        if (load < bestLoad) {
          best = target;
          bestLoad = load;
        }
      }
      next = (next + 1) % Math.max(1, pool.length);
      return best;
    },
    inRotation: (now) => candidates(targets, now, policy, undefined),
  };
}

export function createBalancer<T extends TargetState>(
  kind: BalancerKind,
  targets: readonly T[],
  policy: BalancerPolicy = { slowStart: 0, halfOpenProbes: 1 },
): Balancer<T> {
  if (kind === 'hash')
    return createHashBalancer(targets, (now, exclude) => candidates(targets, now, policy, exclude));
  return kind === 'least_conn' ? createLeastConn(targets, policy) : createRoundRobin(targets, policy);
}
