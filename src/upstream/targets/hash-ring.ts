import type { Balancer } from './balancer-contract.ts';
import type { TargetState } from './target-state.ts';

/** Points on the ring per unit of weight: enough for an even spread (about ±15% at equal weights, as ketama), few enough to build at each reload. */
const POINTS_PER_WEIGHT = 160;

/**
 * A consistent-hash ring: each target owns points placed by hashing its origin, as many as
 * its weight asks for, and a key goes to the owner of the first point at or after its hash.
 * A target's points depend on nothing but its own origin and weight, so a target that leaves
 * (out of rotation, or gone from the config) moves only the keys it owned, to the next
 * owners on the ring; every other key stays where it was.
 */
export interface HashBalancer<T extends TargetState> extends Balancer<T> {
  /** The key's own target, whatever its state: where it goes when every target is in rotation. */
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
  targets: readonly T[],
  /** The targets a pick may choose from (in rotation, untried first): `targets` itself when that is all of them. */
  candidates: (now: number, exclude: readonly T[] | undefined) => readonly T[],
): HashBalancer<T> {
  let ring = buildRing(targets);
  const current = (): Ring => {
    // A weight of 0 takes a target out of rotation (skipped below); any other change re-weighs it.
    for (let i = 0; i < targets.length; i++) {
      const weight = targets[i].weight;
      if (weight !== 0 && weight !== ring.weights[i]) {
        ring = buildRing(targets);
        break;
      }
    }
    return ring;
  };
  return {
    pick(now, exclude, key = '') {
      const pool = candidates(now, exclude);
      if (pool.length === 0) return undefined;
      const { points, owners } = current();
      const start = firstPointAtOrAfter(points, hash32(key));
      // Every target available and none excluded (the common case): the key's home, directly.
      if (pool === targets) return targets[owners[start % points.length]];
      for (let step = 0; step < points.length; step++) {
        const target = targets[owners[(start + step) % points.length]];
        if (pool.includes(target)) return target;
      }
      return undefined;
    },
    home(key) {
      const { points, owners } = current();
      if (points.length === 0) return undefined;
      return targets[owners[firstPointAtOrAfter(points, hash32(key)) % points.length]];
    },
  };
}

function buildRing(targets: readonly TargetState[]): Ring {
  const weights = targets.map((t) => (t.weight === 0 ? t.config.weight : t.weight));
  const entries: [number, number][] = [];
  targets.forEach((target, index) => {
    for (let n = 0; n < weights[index] * POINTS_PER_WEIGHT; n++)
      entries.push([hash32(`${target.config.origin}#${n}`), index]);
  });
  // Ties (two points on one hash) go to the lower index, the same in every process.
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return {
    points: Uint32Array.from(entries, (e) => e[0]),
    owners: Uint32Array.from(entries, (e) => e[1]),
    weights,
  };
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
