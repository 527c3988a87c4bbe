import type { HashKey, SplitSide } from '../../core/config/types.ts';
import type { CanaryWindow } from '../../upstream/canary/canary-window.ts';
import { hash32 } from '../../upstream/targets/hash-ring.ts';
import type { UpstreamChoice } from '../stages/stage.ts';

/**
 * A route's traffic split between upstreams (routes[].split, or a canary's share): the sides
 * in force, changed at run time by the admin API or the canary controller through a runtime
 * change, and the choice of a side for each request. A hash key puts a user at one point of
 * the weights' line, so the same key lands on the same side; the sides keep their order, so a
 * user whose point is on the first side stays there while that side's weight grows (a canary
 * is put first for that reason: its users stay on it from 5 % to 50 %).
 */
export class RouteSplit {
  #sides: readonly SplitSide[];
  #total: number;
  readonly hashKey: HashKey | undefined;
  /** The canary's counts in this process; undefined for a plain split. */
  readonly window: CanaryWindow | undefined;
  /**
   * One per side, in the sides' order (which `set` keeps), made once: a draw hands one out and
   * makes nothing per request.
   */
  readonly #drawn: readonly UpstreamChoice[];
  /**
   * The same sides without the canary's counts: what a draw hands a request whose hash key was
   * counted already in the step (CanaryWindow.countsKey), made once as #drawn is.
   */
  readonly #uncounted: readonly UpstreamChoice[];

  constructor(sides: readonly SplitSide[], hashKey: HashKey | undefined, window?: CanaryWindow) {
    this.#sides = sides;
    this.#total = total(sides);
    this.hashKey = hashKey;
    this.window = window;
    this.#drawn = sides.map(({ upstream }) => (window === undefined ? { upstream } : { upstream, window }));
    this.#uncounted = sides.map(({ upstream }) => ({ upstream }));
  }

  get sides(): readonly SplitSide[] {
    return this.#sides;
  }

  /** New weights for the sides (a runtime change checked them: the same upstreams, not all 0). */
  set(sides: readonly SplitSide[]): void {
    const ordered = this.#sides.map((s) => sides.find((n) => n.upstream === s.upstream) ?? s);
    this.#sides = ordered;
    this.#total = total(ordered);
    this.window?.newStep();
  }

  /** The upstream for a request: drawn at random, or placed by its key's hash. */
  choose(key: string | undefined): string {
    return this.draw(key).upstream;
  }

  /** The side of this upstream (one the split made once); undefined when it is none of the split's. */
  named(upstream: string): UpstreamChoice | undefined {
    return this.#drawn.find((side) => side.upstream === upstream);
  }

  /**
   * The side for a request (see choose), with the canary's counts it adds to: a keyed request's
   * only when its key is not counted yet in the step (CanaryWindow.countsKey: one user, one vote).
   */
  draw(key: string | undefined): UpstreamChoice {
    const hash = key === undefined ? undefined : hash32(key);
    // The key's point on [0, 1): uniform over keys, fixed for one key, and apart from its hash32,
    // which `balancer: hash` looks up on a side's ring (pointOf).
    const i = this.#at(hash === undefined ? Math.random() : pointOf(hash));
    const window = this.window;
    if (hash === undefined || window === undefined) return this.#drawn[i];
    if (!window.countsKey(hash)) return this.#uncounted[i];
    // Its one counted request of the step counts through forKey, which keeps the key beside its
    // outcome: the controller counts the key once a step across processes (key-votes.ts).
    return { upstream: this.#drawn[i].upstream, window: window.forKey(hash) };
  }

  /** The side at `point` of [0, 1) on the weights' line (the first when every weight is 0). */
  #at(point: number): number {
    const sides = this.#sides;
    if (this.#total === 0) return 0;
    const at = point * this.#total;
    let reach = 0;
    for (let i = 0; i < sides.length; i++) {
      reach += sides[i].weight;
      if (at < reach) return i;
    }
    return sides.length - 1;
  }
}

/** Where a key is on the weights' line, [0, 1): the sides are laid on it in their order (a test's way to find a side's keys). */
export function keyPoint(key: string): number {
  return pointOf(hash32(key));
}

/**
 * A key's point on the weights' line, from its hash32 mixed again (murmur3's finalizer over the
 * hash with a constant xored in). The side's upstream with `balancer: hash` on the same key
 * looks the key's hash32 up on its ring: had the point been that hash, a side's keys would be one
 * arc of the ring (a 1 % canary's, 1 % of it) and go to the few targets owning that arc (a canary
 * of two targets had every user of its 1 % on one: split-ring.test.ts). Mixed again, the keys of
 * any share of the line are spread over the whole ring.
 */
function pointOf(hash: number): number {
  let h = hash ^ 0x9e3779b9;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

function total(sides: readonly SplitSide[]): number {
  let sum = 0;
  for (const side of sides) sum += side.weight;
  return sum;
}

/**
 * The sides a canary route starts with: the canary first (see RouteSplit), at its share in
 * percent, the baseline with the rest.
 */
export function canarySides(baseline: string, canary: string, percent: number): SplitSide[] {
  return [
    { upstream: canary, weight: percent },
    { upstream: baseline, weight: 100 - percent },
  ];
}
