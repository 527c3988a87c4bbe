import { link, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { readNote } from './disk-files.ts';
import { ownerGone, ownerOfToken, ownerToken, type StoreOwner } from './store-owner.ts';

/**
 * How often a worker waiting for another's fetch looks whether its lock is gone. A follower's
 * answer comes at most this late after the leader's is written (nginx's proxy_cache_lock looks
 * every 500 ms); one look a key a worker, whatever the number waiting (the others wait in memory).
 */
const LOOK_EVERY_MS = 20;

/** What taking a key's lock came to: this worker fetches; another process does; or no lock can be had here (fetch alone). */
export type LockTaken = 'taken' | 'held' | 'none';

/** What the locks need of the store they lock: where a key's file is, the end of its writes under way, and to be told of a note written. */
export interface LockedStore {
  fileOf(key: string): string;
  writesOf(key: string): Promise<void>;
  /** A failed fetch's note (`….ended`) was written: one file more, which the store's scans remove once old. */
  noted(): void;
}

/**
 * One fetch of a key for every worker (request coalescing across processes, as nginx's
 * proxy_cache_lock is across its workers): the miss that comes first in any worker takes the
 * key's lock in the folder the workers share (a file beside the answer's, `….lock`, holding its
 * owner's pid and start time, linked into place whole: never seen empty), fetches, and lets go
 * of the lock once the answer is written there, or once its failure is (`….ended`, for the
 * others to answer with, as a worker's own waiting requests do); a miss of the key in another
 * worker meanwhile waits for the lock to go (within its `lock_timeout`), then reads what was
 * stored. Within a worker, one request per key deals with the lock: the others wait for it in
 * memory (fill.ts's Fill).
 *
 * A lock is a hint, never a guarantee: one its owner left (killed mid-fetch: gone, by /proc) or
 * older than the taker's `lock_timeout` (past which nobody waits for it anyway) is taken over; a
 * follower past its `lock_timeout` fetches alone; a folder where no lock can be made (read-only,
 * full) fetches alone. The worst a lost lock costs is a fetch more.
 */
export class FillLocks {
  readonly #store: LockedStore;
  /** Who this process is, written into each lock it takes; computed at its first. */
  #token: string | undefined;
  /** The locks this process holds, by key: the inode each was made as (a release removes its own, not a later taker's). */
  readonly #held = new Map<string, number>();
  /** The releases of this process under way, by key (each waits for its answer's write): a take of the key waits for its own. */
  readonly #releasing = new Map<string, Promise<void>>();
  /** Work a held lock goes only after, by key (its fill's file written: fill-file.ts). */
  readonly #releaseAfter = new Map<string, Promise<void>>();
  #made = 0;

  constructor(store: LockedStore) {
    this.#store = store;
  }

  #lockOf(key: string): string {
    return `${this.#store.fileOf(key)}.lock`;
  }

  /**
   * Takes the key's lock: `taken` (release it once the fetch is over), `held` by another,
   * `none` (fetch without). A lock older than `staleMs` (the taker's lock_timeout) is taken over.
   */
  async take(key: string, staleMs: number): Promise<LockTaken> {
    const lock = this.#lockOf(key);
    // This process's last fetch of the key still lets go of it (its answer being written): not
    // another's to wait for. Within `staleMs`: a write that hangs (a stuck disk) holds no request longer.
    const releasing = this.#releasing.get(key);
    if (releasing !== undefined) await within(releasing, staleMs);
    this.#token ??= ownerToken() ?? `${process.pid}`;
    // Written whole under a name of this process's, then linked into place: link fails if a lock is there.
    const made = `${lock}.${process.pid}.${this.#made++}`;
    try {
      await writeFile(made, this.#token, { mode: 0o600 });
    } catch {
      await unlink(made).catch(() => {});
      return 'none';
    }
    try {
      for (let tries = 0; tries < 2; tries++) {
        try {
          await link(made, lock);
          this.#held.set(key, (await stat(made)).ino);
          return 'taken';
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return 'none';
        }
        // Held: by a live fetch, or left by a process gone (this one's put in its place, or, gone
        // meanwhile, this one tries once more).
        const over = await this.#takenOver(lock, made, staleMs);
        if (typeof over === 'number') {
          this.#held.set(key, over);
          return 'taken';
        }
        if (!over) return 'held';
      }
      return 'held';
    } finally {
      await unlink(made).catch(() => {});
    }
  }

  /**
   * Lets go of the key's lock once its writes under way are over (the answer in place for the
   * others to read); `ended`: how the fetch failed, written for them first (endedSince).
   */
  release(key: string, ended?: string): void {
    const lock = this.#lockOf(key);
    const ino = this.#held.get(key);
    this.#held.delete(key);
    const after = this.#releaseAfter.get(key);
    this.#releaseAfter.delete(key);
    const file = this.#store.fileOf(key);
    const done = async () => {
      if (ended !== undefined) {
        const made = `${file}.ended.${process.pid}.${this.#made++}`;
        await writeFile(made, JSON.stringify({ at: Date.now(), ended }), { mode: 0o600 });
        await rename(made, `${file}.ended`).catch(() => unlink(made));
        this.#store.noted();
      }
      // Its own lock only: one taken over from it (past the taker's lock_timeout) is the taker's.
      if (ino !== undefined && (await stat(lock)).ino === ino) await unlink(lock);
    };
    const released: Promise<void> = Promise.all([this.#store.writesOf(key), after])
      .then(done)
      .catch(() => {})
      .finally(() => {
        if (this.#releasing.get(key) === released) this.#releasing.delete(key);
      });
    this.#releasing.set(key, released);
  }

  /** The key's lock this process holds, as the inode it was made as (what its fill's file names: fill-file.ts); undefined: none held. */
  lockInode(key: string): number | undefined {
    return this.#held.get(key);
  }

  /** The key's lock, held by this process, goes only once `work` is over too (its release waits for it). */
  releaseAfter(key: string, work: Promise<void>): void {
    if (this.#held.has(key)) this.#releaseAfter.set(key, work);
  }

  /**
   * Who holds the key's lock now, by any process: its inode and owner (undefined when its token
   * is not one store-owner.ts reads, or it is not written yet); undefined: nobody.
   */
  async lockNow(key: string): Promise<{ ino: number; owner: StoreOwner | undefined } | undefined> {
    const lock = this.#lockOf(key);
    const [facts, text] = await Promise.all([stat(lock).catch(() => undefined), readNote(lock)]);
    if (facts === undefined || text === undefined) return undefined;
    return { ino: facts.ino, owner: ownerOfToken(text) };
  }

  /** `end` (a fetch's end), which lets go of the key's lock too, the first time it is called, with `ended(end)` its failure if any. */
  releasing<E>(
    key: string,
    end: (end?: E) => void,
    ended: (end?: E) => string | undefined,
  ): (end?: E) => void {
    let held = true;
    return (value) => {
      end(value);
      if (!held) return;
      held = false;
      this.release(key, ended(value));
    };
  }

  /**
   * Resolves true once the key's lock is gone (its fetch over: look again), `abandoned` once its
   * owner is certainly gone (killed mid-fetch, by /proc: nobody will let go of it, take it over),
   * false when `until` (Date.now()'s) passes first or `gone()` says the request waiting left.
   */
  async released(key: string, until: number, gone: () => boolean): Promise<boolean | 'abandoned'> {
    const lock = this.#lockOf(key);
    // Its owner, read once a lock: another may take a lock over (past its lock_timeout), alive.
    let held: { ino: number; owner: StoreOwner | undefined } | undefined;
    for (;;) {
      const found = await stat(lock).catch((err: NodeJS.ErrnoException) => err.code);
      if (typeof found === 'string') return true;
      if (gone()) return false;
      const left = until - Date.now();
      if (left <= 0) return false;
      // Another lock in its place, while its owner lives: the fetch waited for is over (its answer
      // written, then the lock let go) and another has begun (a waiter of that worker's for another
      // `Vary` variant, at once). Waiting on for it, this worker read only what the second stored,
      // and its requests for the first's variant fetched that again: 3 or 4 fetches for 2 variants.
      // A lock taken over from an owner gone (killed mid-fetch) is the same fetch's: waited for.
      if (
        found !== undefined &&
        held !== undefined &&
        held.ino !== found.ino &&
        !(held.owner !== undefined && ownerGone(held.owner))
      )
        return true;
      // A worker killed mid-fetch lets go of nothing: its waiters waited out their lock_timeout
      // (5 s by default), then went upstream each alone, as a Range following its file did not.
      if (found !== undefined && held?.ino !== found.ino) {
        const text = await readNote(lock);
        held = { ino: found.ino, owner: text === undefined ? undefined : ownerOfToken(text) };
      }
      if (held?.owner !== undefined && ownerGone(held.owner)) return 'abandoned';
      await sleep(Math.min(LOOK_EVERY_MS, left));
    }
  }

  /** How the key's fetch that ended after `since` (Date.now()'s) failed, as its leader wrote it; undefined: it did not (or said nothing). */
  async endedSince(key: string, since: number): Promise<string | undefined> {
    const text = await readNote(`${this.#store.fileOf(key)}.ended`);
    if (text === undefined) return undefined;
    try {
      const note = JSON.parse(Buffer.from(text, 'latin1').toString('utf8')) as {
        at?: unknown;
        ended?: unknown;
      };
      return typeof note.at === 'number' && note.at >= since && typeof note.ended === 'string'
        ? note.ended
        : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the lock there was abandoned (its owner certainly gone, by store-owner.ts, or older
   * than `staleMs`) and is now this process's, `made` renamed over it in one step: the inode it
   * is; or, gone meanwhile, true (try again); false: a live fetch's. One taker at a time: the one
   * that links the key's takeover marker (`….lock.takeover`, from `made`, as a lock is linked)
   * judges the lock again under it. Two workers that both saw a dead owner (each looks every
   * 20 ms) both took it over before (2 to 9 keys of 150 with three workers): the second judged
   * the dead lock, then moved the first's new one aside (and back, or removed it: its read and its
   * stat were of two locks); and a lock moved aside and not yet replaced was, to a waiter looking
   * then, a fetch over, after which it fetched alone. A lock not abandoned costs no marker.
   */
  async #takenOver(lock: string, made: string, staleMs: number): Promise<boolean | number> {
    const judged = await judge(lock, staleMs, made);
    // Gone meanwhile (its fetch over: try again), or a live fetch's (wait for it).
    if (typeof judged !== 'object') return judged === 'gone';
    const marker = `${lock}.takeover`;
    for (;;) {
      const code = await link(made, marker).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => err.code,
      );
      if (code === undefined) break;
      if (code !== 'EEXIST') return false;
      // Another's takeover under way (a few file operations): once over, the lock is judged
      // again; a marker left by a taker killed in it goes as a dead lock does.
      const other = await judge(marker, staleMs, made);
      if (typeof other === 'object') await this.#movedAside(marker, other.ino);
      else if (other === 'live') await sleep(1);
    }
    try {
      // Under the marker nobody else replaces an abandoned lock (its owner lets go of nothing),
      // but one past `staleMs` whose owner lived: let go of, another's linked meanwhile (a hint).
      const again = await judge(lock, staleMs, made);
      if (typeof again !== 'object') return again === 'gone';
      const { ino } = await stat(made);
      // A directory is not renamed over (EISDIR): moved aside, then this one linked in its place,
      // which a fresh take linked there meanwhile keeps (EEXIST: held).
      await rename(made, lock).catch(async () => {
        await this.#movedAside(lock, again.ino);
        await link(made, lock);
      });
      return ino;
    } catch {
      return false;
    } finally {
      await unlink(marker).catch(() => {});
    }
  }

  /**
   * Moves the file there aside (a takeover marker left by a taker killed in it, a directory in a
   * lock's place) and removes it if what was moved is the inode judged (another may have replaced
   * it meanwhile: put back then).
   */
  async #movedAside(file: string, ino: number): Promise<void> {
    const aside = `${file}.${process.pid}.${this.#made++}`;
    if (
      !(await rename(file, aside).then(
        () => true,
        () => false,
      ))
    )
      return;
    const moved = await stat(aside).catch(() => undefined);
    if (moved !== undefined && moved.ino !== ino) await link(aside, file).catch(() => {});
    await unlink(aside).catch(() => {});
  }
}

/**
 * A lock (or takeover marker) as a taker sees it: `gone`; `live`; or abandoned, with the inode
 * judged: its owner certainly gone, older than `staleMs`, or no lock of ours (a FIFO, a device,
 * a file that cannot be read: no fetch's). Its age is counted on the file system's clock, which
 * stamped it: from the time of `own`, the taker's file written a moment ago in the same folder.
 * Against Date.now(), a folder whose clock runs behind the process's (a share, NFS) made every
 * lock older than lock_timeout at once, taken over by each worker's miss: a fetch each.
 */
async function judge(file: string, staleMs: number, own: string): Promise<'gone' | 'live' | { ino: number }> {
  const [text, facts, now] = await Promise.all([
    readNote(file),
    stat(file).catch(() => undefined),
    stat(own).then(
      (facts) => facts.mtimeMs,
      () => Date.now(),
    ),
  ]);
  if (facts === undefined) return 'gone';
  const owner = text === undefined ? undefined : ownerOfToken(text);
  const abandoned =
    text === undefined || (owner !== undefined && ownerGone(owner)) || now - facts.mtimeMs > staleMs;
  return abandoned ? { ino: facts.ino } : 'live';
}

/** `promise`, or `ms` passing first, whichever comes first (the timer cleared either way). */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
