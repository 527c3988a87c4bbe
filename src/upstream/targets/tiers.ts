/**
 * Target priorities (backup tiers): nginx's `backup`, HAProxy's `backup`, Envoy's priorities,
 * RFC 2782's SRV priorities. Targets of the lowest priority take every request while one of
 * them is in rotation; the next tier takes over only when every target of that one is out.
 *
 * Panic (panic.ts) is judged per tier: a tier with fewer than `panic_threshold` percent of its
 * targets passing their checks gives way to the next one, as if it were out, so that
 * primaries failing their checks send traffic to healthy backups rather than panicking into
 * the failing primaries. The upstream panics only when every tier is below the threshold, and
 * then spreads over the first tier with a target passing its checks (every target of it,
 * checks ignored), else over the first tier with any target. One tier: exactly the panic of old.
 */
import { isAvailable, isOnlyEjected, type TargetState } from './target-state.ts';

/** An upstream's targets grouped by priority, lowest (preferred) first; each group in config order. */
export interface Tiers<T extends TargetState> {
  readonly all: readonly T[];
  readonly list: readonly (readonly T[])[];
  /** The lowest tier: `all` itself when there is one tier, so the fast path hands the targets out as they are. */
  readonly first: readonly T[];
}

export function tiersOf<T extends TargetState>(targets: readonly T[]): Tiers<T> {
  const priorities = [...new Set(targets.map((t) => t.config.priority))].sort((a, b) => a - b);
  const list =
    priorities.length <= 1
      ? [targets]
      : priorities.map((p) => targets.filter((t) => t.config.priority === p));
  return { all: targets, list, first: list[0] };
}

/** Whether `tier` passes the panic threshold: at least `threshold` percent of its targets pass their checks. */
export function healthyEnough(tier: readonly TargetState[], threshold: number): boolean {
  let passing = 0;
  for (const t of tier) if (t.checkedHealthy) passing++;
  return passing * 100 >= threshold * tier.length;
}

export interface TierPolicy {
  readonly halfOpenProbes: number;
  /** The upstream is in panic (every tier below the threshold): checks are ignored in the tier used. */
  readonly panic: boolean;
  readonly threshold: number;
}

/**
 * The targets a pick may choose from when the fast path did not apply (a target of the lowest
 * tier out of rotation, a retry, tiers in panic): always of one tier, so a hash ring stays
 * consistent within it. A retry prefers the untried targets of the tier in use, then those of
 * the next tiers (nginx's next upstream reaches its backups), then the untried ones out only by
 * their ejection (with a threshold above 0), then the tried ones again.
 */
export function tierCandidates<T extends TargetState>(
  tiers: Tiers<T>,
  now: number,
  policy: TierPolicy,
  exclude: readonly T[] | undefined,
): T[] {
  const { halfOpenProbes, panic, threshold } = policy;
  const inRotation = (tier: readonly T[], ignoreChecks: boolean) =>
    tier.filter((t) => isAvailable(t, now, halfOpenProbes, ignoreChecks));
  let chosen: T[] = [];
  let at = -1;
  // The first tier healthy enough with a target in rotation; in panic, the first with a passing one.
  for (let i = 0; i < tiers.list.length && at < 0; i++) {
    const tier = tiers.list[i];
    if (!panic && !healthyEnough(tier, threshold)) continue;
    const passing = inRotation(tier, false);
    if (passing.length > 0) [chosen, at] = [panic ? inRotation(tier, true) : passing, i];
  }
  // Else the first tier with anything in rotation: below the threshold, or (in panic) none passing.
  for (let i = 0; i < tiers.list.length && at < 0; i++) {
    const available = inRotation(tiers.list[i], panic);
    if (available.length > 0) [chosen, at] = [available, i];
  }
  // Else ejections left no target at all: the ejected ones (see isOnlyEjected), with a threshold above 0.
  for (let i = 0; i < tiers.list.length && at < 0 && threshold > 0; i++) {
    const ejected = tiers.list[i].filter((t) => isOnlyEjected(t, now, panic));
    if (ejected.length > 0) [chosen, at] = [ejected, i];
  }
  if (exclude === undefined || at < 0) return chosen;
  const fresh = chosen.filter((t) => !exclude.includes(t));
  if (fresh.length > 0) return fresh;
  for (let i = at + 1; i < tiers.list.length; i++) {
    const next = inRotation(tiers.list[i], panic).filter((t) => !exclude.includes(t));
    if (next.length > 0) return next;
  }
  // Every target in rotation failed this request already: to the request, they are out as the
  // ejected ones are, so an untried one out only by its ejection comes before them, as the
  // ejected ones take a new request when none is in rotation. Else a target that holds
  // `max_ejected_percent`'s place (ejected, back since) left the refusing one alone in rotation,
  // and a refused retry went back to it (a rolling restart's second target: `tries` twice the same).
  for (let i = 0; i < tiers.list.length && threshold > 0; i++) {
    const ejected = tiers.list[i].filter((t) => isOnlyEjected(t, now, panic) && !exclude.includes(t));
    if (ejected.length > 0) return ejected;
  }
  return chosen;
}
