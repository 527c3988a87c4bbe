import type { Balancer } from './balancer-contract.ts';
import type { TargetState } from './target-state.ts';
import type { Tiers } from './tiers.ts';

/** Points on the ring per unit of weight: enough for an even spread (about ±15% at equal weights, as ketama), few enough to build at each reload. */
const POINTS_PER_WEIGHT = 160;
/**
 * The most points a ring holds: a thousand units of weight's worth. Weights are up to 1000 a
 * target and an SRV answer brings hundreds of targets, which at 160 points a unit asked for
 * tens of millions (a minute of one core and gigabytes to build, on the request path after an
 * admin change of weight). Above it every target's points are halved alike until the ring fits.
 */
const MAX_POINTS = POINTS_PER_WEIGHT * 1000;
/** A point and its owner's index in one number, sorted natively (index < 2^20, so < 2^52: exact). */
const OWNER_SLOTS = 2 ** 20;

/**
 * A consistent-hash ring: each target owns points placed by hashing its origin, as many as
 * its weight asks for, and a key goes to the owner of the first point at or after its hash.
 * A target's points depend on nothing but its own origin and weight, so a target that leaves
 * (out of rotation, or gone from the config) moves only the keys it owned, to the next
 * owners on the ring; every other key stays where it was.
 */
export interface HashBalancer<T extends TargetState> extends Balancer<T> {
  /** The key's own target in the lowest tier, whatever its state: where it goes when every target of that tier is in rotation. */
  home(key: string): T | undefined;
}

interface Ring {
  readonly points: Uint32Array;
  /** The index (in `targets`) of each point's owner. */
  readonly owners: Uint32Array;
  /** The weights the ring was built with: an admin API change of weight rebuilds it. */
  readonly weights: readonly number[];
}

export function createHashBalancer<T extends TargetState>(
  tiers: Tiers<T>,
  /** The targets a pick may choose from (in rotation, untried first, of one tier): that tier's own list when that is all of it. */
  candidates: (now: number, exclude: readonly T[] | undefined) => readonly T[],
): HashBalancer<T> {
  // A ring per tier: a key keeps its target within the tier it uses, whatever the others do.
  const rings = tiers.list.map((tier) => buildRing(tier));
  const current = (index: number): Ring => {
    const targets = tiers.list[index];
    const ring = rings[index];
    // A weight of 0 takes a target out of rotation (skipped below); any other change re-weighs it.
    for (let i = 0; i < targets.length; i++) {
      const weight = targets[i].weight;
      if (weight !== 0 && weight !== ring.weights[i]) {
        rings[index] = buildRing(targets);
        break;
      }
    }
    return rings[index];
  };
  return {
    pick(now, exclude, key = '') {
      const pool = candidates(now, exclude);
      if (pool.length === 0) return undefined;
      const index = tiers.list.length === 1 ? 0 : tiers.list.findIndex((tier) => tier.includes(pool[0]));
      const targets = tiers.list[index];
      const { points, owners } = current(index);
      const start = firstPointAtOrAfter(points, hash32(key));
      // Every target of the tier available and none excluded (the common case): the key's home, directly.
      if (pool === targets) return targets[owners[start % points.length]];
      for (let step = 0; step < points.length; step++) {
        const target = targets[owners[(start + step) % points.length]];
        if (pool.includes(target)) return target;
      }
      return undefined;
    },
    inRotation: (now, exclude) => candidates(now, exclude),
    home(key) {
      const { points, owners } = current(0);
      if (points.length === 0) return undefined;
      return tiers.first[owners[firstPointAtOrAfter(points, hash32(key)) % points.length]];
    },
  };
}

function buildRing(targets: readonly TargetState[]): Ring {
  const weights = targets.map((t) => (t.weight === 0 ? t.config.weight : t.weight));
  const counts = pointCounts(weights);
  let total = 0;
  for (const count of counts) total += count;
  const packed = new Float64Array(total);
  let at = 0;
  targets.forEach((target, index) => {
    // A target's nth point is where it always was: fewer points drop its last ones only.
    for (let n = 0; n < counts[index]; n++)
      packed[at++] = hash32(`${target.config.origin}#${n}`) * OWNER_SLOTS + index;
  });
  // Ties (two points on one hash) go to the lower index, the same in every process.
  packed.sort();
  const points = new Uint32Array(total);
  const owners = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    const point = Math.floor(packed[i] / OWNER_SLOTS);
    points[i] = point;
    owners[i] = packed[i] - point * OWNER_SLOTS;
  }
  return { points, owners, weights };
}

/**
 * Each target's points: 160 a unit of weight, all halved as often as it takes to hold the ring
 * to MAX_POINTS (at least one a target). Halving in whole steps keeps the count of the targets
 * that stay unchanged when one leaves, unless that crosses a step: consistent as ever.
 */
function pointCounts(weights: readonly number[]): number[] {
  let asked = 0;
  for (const weight of weights) asked += weight * POINTS_PER_WEIGHT;
  let divisor = 1;
  while (asked / divisor > MAX_POINTS) divisor *= 2;
  return weights.map((weight) => Math.max(1, Math.floor((weight * POINTS_PER_WEIGHT) / divisor)));
}

/** The index of the first point ≥ hash (points.length when past the last: the caller wraps). */
function firstPointAtOrAfter(points: Uint32Array, hash: number): number {
  let low = 0;
  let high = points.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (points[mid] < hash) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * FNV-1a over the UTF-16 code units, then murmur3's finalizer so that keys differing in one
 * character land far apart on the ring. Not for secrets: only for spreading.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
