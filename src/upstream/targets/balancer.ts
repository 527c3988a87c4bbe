import type { BalancerKind } from '../../core/config/types.ts';
import type { Balancer } from './balancer-contract.ts';
import { createHashBalancer } from './hash-ring.ts';
import { effectiveWeight, isAvailable, type TargetState } from './target-state.ts';
import { type Tiers, tierCandidates, tiersOf } from './tiers.ts';

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

/**
 * The targets a pick may choose from: those in rotation of the lowest tier that has one (see
 * tiers.ts), preferring those not tried yet.
 */
function candidates<T extends TargetState>(
  tiers: Tiers<T>,
  now: number,
  policy: BalancerPolicy,
  exclude: readonly T[] | undefined,
): T[] {
  const first = tiers.first;
  // With tiers, the fast path judges the lowest by its checks: in panic, a tier failing them
  // may have to give way to a later one that passes (tierCandidates decides).
  const panic = (policy.panic?.active ?? false) && first === tiers.all;
  let all = true;
  for (let i = 0; i < first.length && all; i++)
    all = isAvailable(first[i], now, policy.halfOpenProbes, panic);
  // The common case allocates nothing: every target of the lowest tier in rotation, first
  // attempt. (The filters are another function's: their closures' context, made on entry,
  // was 65 bytes a request.)
  if (all && (!exclude || exclude.length === 0)) return first as T[];
  return narrowed(tiers, now, policy, exclude);
}

/** candidates() when a target is out of rotation or one was tried already. */
function narrowed<T extends TargetState>(
  tiers: Tiers<T>,
  now: number,
  policy: BalancerPolicy,
  exclude: readonly T[] | undefined,
): T[] {
  return tierCandidates(
    tiers,
    now,
    {
      halfOpenProbes: policy.halfOpenProbes,
      panic: policy.panic?.active ?? false,
      threshold: policy.panic?.threshold ?? 0,
    },
    exclude !== undefined && exclude.length > 0 ? exclude : undefined,
  );
}

/**
 * Smooth weighted round robin (each pick adds every candidate's weight to its credit, the
 * richest wins and pays the total): spreads a 3:1 weighting as a,a,b,a rather than a,a,a,b.
 * Weights are read per pick, so slow start and ejections take effect at once. The credits are
 * the targets' own (TargetState.credit), so a rebuild that keeps a target keeps its turn.
 */
function createRoundRobin<T extends TargetState>(tiers: Tiers<T>, policy: BalancerPolicy): Balancer<T> {
  return {
    pick(now, exclude) {
      const pool = candidates(tiers, now, policy, exclude);
      if (pool.length <= 1) return pool[0];
      return smoothPick(pool, now, policy.slowStart);
    },
    inRotation: (now, exclude) => candidates(tiers, now, policy, exclude),
  };
}

/**
 * The smooth weighted round robin's step over the candidates of `pool` (all of them, or with a
 * `least` load those at it): each adds its weight to its credit, the richest wins and pays the
 * total. A candidate left out keeps its credit as it is.
 */
function smoothPick<T extends TargetState>(
  pool: readonly T[],
  now: number,
  slowStart: number,
  least?: number,
): T | undefined {
  let best: T | undefined;
  let bestCredit = Number.NEGATIVE_INFINITY;
  let total = 0;
  for (const target of pool) {
    const weight = effectiveWeight(target, now, slowStart);
    if (least !== undefined && target.active.count / weight !== least) continue;
    total += weight;
    const c = target.credit + weight;
    target.credit = c;
    if (c > bestCredit) {
      best = target;
      bestCredit = c;
    }
  }
  if (best) best.credit = bestCredit - total;
  return best;
}

/**
 * Fewest requests in flight relative to (effective) weight, as nginx's least_conn: the targets
 * at the least share it by the round robin's smooth step. Idle targets are all at 0, so their
 * weights still share the requests (3:1 goes a,a,b,a; counting the request to come, (n+1)/w,
 * gave the weight-1 target nothing while requests came one at a time), and equal ones take
 * their turn whatever the candidates' order: an index turning over the pool, whose length a
 * busy target or a retry's tried ones change, handed a slow target's share to the one listed
 * after it, and a target resetting every request took most first attempts.
 */
function createLeastConn<T extends TargetState>(tiers: Tiers<T>, policy: BalancerPolicy): Balancer<T> {
  return {
    pick(now, exclude) {
      const pool = candidates(tiers, now, policy, exclude);
      if (pool.length <= 1) return pool[0];
      let least = Number.POSITIVE_INFINITY;
      for (const target of pool)
        least = Math.min(least, target.active.count / effectiveWeight(target, now, policy.slowStart));
      return smoothPick(pool, now, policy.slowStart, least);
    },
    inRotation: (now, exclude) => candidates(tiers, now, policy, exclude),
  };
}

export function createBalancer<T extends TargetState>(
  kind: BalancerKind,
  targets: readonly T[],
  policy: BalancerPolicy = { slowStart: 0, halfOpenProbes: 1 },
): Balancer<T> {
  const tiers = tiersOf(targets);
  if (kind === 'hash')
    return createHashBalancer(tiers, (now, exclude) => candidates(tiers, now, policy, exclude));
  return kind === 'least_conn' ? createLeastConn(tiers, policy) : createRoundRobin(tiers, policy);
}
