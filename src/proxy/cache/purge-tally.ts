import { createHash } from 'node:crypto';

/**
 * A stored answer's name across the workers: the SHA-256 of its route and key, in hex. The
 * shared directory names its file so (disk-store.ts), and a purge names what it dropped by it
 * (PurgeTally), so that the primary counts an answer two workers held once.
 */
export function entryName(route: string, key: string): string {
  return createHash('sha256').update(`${route}\n${key}`).digest('hex');
}

/**
 * The most ids one worker sends with its purge's count: a purge of a page or of a path (the
 * usual ones) is counted exactly across the workers, and a purge of tens of thousands of answers
 * ships no list of that size over IPC (its count is then a range: mergePurged).
 */
export const PURGE_IDS_MAX = 1024;

/** An id is 48 bits of the name: a thousand ids in each of a few workers collide with a chance under 1 in 10^7. */
const ID_DIGITS = 12;

/** An answer's id, of its name (entryName, or its file's name). */
export function purgeId(name: string): string {
  return name.slice(0, ID_DIGITS);
}

/** The ids of the answers one worker's purge dropped, up to PURGE_IDS_MAX; past it, none at all. */
export class PurgeTally {
  #ids: Set<string> | undefined = new Set();

  /** One dropped answer, by its name (entryName, or its file's name); one named twice counts once. */
  add(name: string): void {
    const ids = this.#ids;
    if (ids === undefined) return;
    ids.add(purgeId(name));
    if (ids.size > PURGE_IDS_MAX) this.#ids = undefined;
  }

  /** The ids, or undefined when there were more than PURGE_IDS_MAX. */
  get ids(): string[] | undefined {
    return this.#ids === undefined ? undefined : [...this.#ids];
  }
}
