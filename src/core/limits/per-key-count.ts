import type { Release } from './count.ts';

/**
 * Counts of things held per key (connections or requests in flight per client address), each
 * against a maximum. An entry lives only while its count is above 0, and the table holds at
 * most `maxKeys` of them: its memory is bounded by what is held, never by how many keys were
 * ever seen. Counts change through `acquire` and the release it returns (down exactly once).
 */
export class PerKeyCount {
  readonly #counts = new Map<string, number>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** Keys holding something now. */
  get size(): number {
    return this.#counts.size;
  }

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /**
   * Takes one for `key` if it holds fewer than `max`; undefined when it holds `max` already,
   * or when it is a new key and the table is full.
   */
  acquire(key: string, max: number): Release | undefined {
    const held = this.#counts.get(key) ?? 0;
    if (held >= max) return undefined;
    if (held === 0 && this.#counts.size >= this.#maxKeys) return undefined;
    this.#counts.set(key, held + 1);
    let holding = true;
    return () => {
      if (!holding) return;
      holding = false;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left === 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }
}
