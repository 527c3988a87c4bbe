/**
 * What every balancer is, apart from how it is built: the contract the factory (balancer.ts)
 * returns and each kind implements, the hash ring (hash-ring.ts) included. On its own so that
 * a balancer kind can name the contract without importing the factory that imports it.
 */
import type { TargetState } from './target-state.ts';

/**
 * Every balancer keeps one contract (test/upstream/targets/balancer.test.ts runs the same
 * suite against each): never a target out of rotation, one not tried yet while there is one.
 */
export interface Balancer<T extends TargetState = TargetState> {
  /**
   * A target for the next attempt, skipping unavailable ones and, when others remain, those in
   * `exclude`. `key` is the request's hash key (read by the hash balancer only).
   */
  pick(now: number, exclude?: readonly T[], key?: string): T | undefined;
  /**
   * The targets a first pick now may choose from, nothing picked (no credit spent, no probe slot
   * taken): none, and pick() finds none. With `exclude`, those a retry's pick would choose from:
   * untried ones first, of the next tier when the tier in use was all tried (tiers.ts).
   */
  inRotation(now: number, exclude?: readonly T[]): readonly T[];
  /** The hash balancer's: the key's own target, where it goes while that target is in rotation. */
  home?(key: string): T | undefined;
}
