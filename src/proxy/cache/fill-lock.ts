import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { ownerGone, ownerOfToken, ownerToken } from './store-owner.ts';

/**
 * How often a worker waiting for another's fetch looks whether its lock is gone. A follower's
 * answer comes at most this late after the leader's is written (nginx's proxy_cache_lock looks
 * every 500 ms); one look a key a worker, whatever the number waiting (the others wait in memory).
 */
const LOOK_EVERY_MS = 20;

/**
 * A lock this old is let go whoever holds it: a fetch of a storable answer (at most `max_entry`)
 * outlasting ten minutes is a hung one. Only for an owner /proc cannot judge (not Linux, another
 * pid namespace): a dead one's lock goes at the next miss of its key.
 */
const ABANDONED_MS = 10 * 60_000;

/** What taking a key's lock came to: this worker fetches; another process does; or no lock can be had here (fetch alone). */
export type LockTaken = 'taken' | 'held' | 'none';

/** What the locks need of the store they lock: where a key's file is, and the end of its writes under way. */
export interface LockedStore {
  fileOf(key: string): string;
  writesOf(key: string): Promise<void>;
}

/**
 * One fetch of a key for every worker (request coalescing across processes, as nginx's
 * proxy_cache_lock is across its workers): the miss that comes first in any worker takes the
 * key's lock in the folder the workers share (a file made with O_EXCL beside the answer's,
 * holding its owner's pid and start time), fetches, and lets go of the lock once the answer is
 * written there; a miss of the key in another worker meanwhile waits for the lock to go (within
 * its `lock_timeout`), then reads what was stored. Within a worker, one request per key deals
 * with the lock: the others wait for it in memory (answer-cache.ts's Fill).
 *
 * A lock is a hint, never a guarantee: one its owner left (killed mid-fetch) is taken over at
 * the next miss of its key; a follower past its `lock_timeout` fetches alone; a folder where no
 * lock can be made (read-only, full) fetches alone. The worst a lost lock costs is a fetch more.
 */
export class FillLocks {
  readonly #store: LockedStore;
  /** Who this process is, written into each lock it takes; computed at its first. */
  #token: string | undefined;

  constructor(store: LockedStore) {
    this.#store = store;
  }

  #lockOf(key: string): string {
    return `${this.#store.fileOf(key)}.lock`;
  }

  /** Takes the key's lock: `taken` (release it once the fetch is over), `held` by another, `none` (fetch without). */
  async take(key: string): Promise<LockTaken> {
    const lock = this.#lockOf(key);
    this.#token ??= ownerToken() ?? `${process.pid}`;
    for (let tries = 0; tries < 2; tries++) {
      try {
        await writeFile(lock, this.#token, { flag: 'wx', mode: 0o600 });
        return 'taken';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return 'none';
      }
      // Held: by a live fetch, or left by a process gone, whose lock goes (and this one tries once more).
      const held = await holder(lock);
      if (held === 'live') return 'held';
      if (held === 'abandoned') await unlink(lock).catch(() => {});
    }
    return 'held';
  }

  /** Lets go of the key's lock once its writes under way are over (the answer in place for the others to read). */
  release(key: string): void {
    const lock = this.#lockOf(key);
    void this.#store
      .writesOf(key)
      .then(() => unlink(lock))
      .catch(() => {});
  }

  /** `end` (a fetch's end), which lets go of the key's lock too, the first time it is called. */
  releasing<A extends unknown[]>(key: string, end: (...args: A) => void): (...args: A) => void {
    let held = true;
    return (...args) => {
      end(...args);
      if (!held) return;
      held = false;
      this.release(key);
    };
  }

  /**
   * Resolves true once the key's lock is gone (its fetch over: look again), false when `until`
   * (Date.now()'s) passes first or `gone()` says the request waiting left.
   */
  async released(key: string, until: number, gone: () => boolean): Promise<boolean> {
    const lock = this.#lockOf(key);
    for (;;) {
      const found = await stat(lock).catch((err: NodeJS.ErrnoException) => err.code);
      if (typeof found === 'string') return true;
      if (gone()) return false;
      const left = until - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(LOOK_EVERY_MS, left)));
    }
  }
}

/**
 * Who holds the lock: a live fetch; nobody now (`gone`: its fetch ended meanwhile); or an owner
 * certainly gone (store-owner.ts), or one older than any fetch (`abandoned`: its lock goes).
 */
async function holder(lock: string): Promise<'live' | 'gone' | 'abandoned'> {
  const [text, facts] = await Promise.all([
    readFile(lock, 'latin1').catch(() => undefined),
    stat(lock).catch(() => undefined),
  ]);
  if (text === undefined || facts === undefined) return 'gone';
  const owner = ownerOfToken(text);
  if (owner !== undefined && ownerGone(owner)) return 'abandoned';
  return Date.now() - facts.mtimeMs > ABANDONED_MS ? 'abandoned' : 'live';
}
