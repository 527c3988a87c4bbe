import { createHash } from 'node:crypto';
import { mkdirSync, unlinkSync } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskFailures, type DiskTell } from './disk-failures.ts';
import { keyOf, readBounded } from './disk-files.ts';
import { FillLocks } from './fill-lock.ts';
import type { CacheGrants } from './freshness.ts';
import { keyMatches } from './key-authority.ts';
import { entryName } from './purge-tally.ts';
import type { StoredAnswer } from './stored-answer.ts';
import { answerOfFile, digestOf, headLine, MAX_HEAD_LINE } from './stored-head.ts';

/** A stored answer's file: the hash of its route and key (a temporary one has a suffix). */
const FILE_NAME = /^[0-9a-f]{64}$/;
/**
 * A temporary file of a write (`<file>.<pid>.<n>.tmp`: renamed when the write is whole), of a
 * fill lock's making (`<file>.lock.<pid>.<n>`), a fetch's failure told to the other workers
 * (`<file>.ended`, fill-lock.ts), or a Range's fill as it streams in (`<file>.fill`, fill-file.ts:
 * written to as its bytes come, so one a minute old is a killed worker's): of no use to anyone.
 */
const TMP_NAME = /^[0-9a-f]{64}(\.\d+\.\d+\.tmp|\.lock\.\d+\.\d+|\.(ended|fill)(\.\d+\.\d+)?)$/;
/**
 * A temporary file this old is no write under way (one of at most max_entry bytes takes far
 * less): its worker died before the rename (a crash, a kill, a shutdown with a write in flight).
 * By age, not by its pid: a restarted container's workers get the same pids again. Removing one
 * still written costs only that disk copy (its rename fails, and the write is dropped).
 */
const ORPHAN_AGE_MS = 60_000;
/** Writes between two scans of the directory against max_disk (and a scan whenever this worker wrote a tenth of it). */
const SCAN_EVERY = 64;

/** The files a purge reads and removes at once (DiskStore.purge). */
const PURGE_BATCH = 64;

/** A purge under way: the keys it covers (all without a prefix), and the writes begun since, by file, each with whether it is in place. */
interface Purging {
  prefix: string | undefined;
  since: Map<string, Promise<boolean>>;
}

/**
 * A route's stored answers on disk, shared by the workers (`routes[].cache.dir`), in a
 * subdirectory of its own (routeDirName), so that two routes naming one `dir` purge and bound
 * only their own files: one file per key (named by a hash of the route and key), a JSON line (key, status, reason, the policy,
 * the body's length and digest) then the body, written whole under a temporary name and renamed
 * (a reader never sees half a file; one cut or changed since is not ours and is a miss). A worker that misses in memory reads the file and keeps it in memory too. The files
 * stay under `max_disk`: every worker scans the directory now and then and removes the oldest
 * (a hit renews a file's time). What cannot be read or written is simply not used: the disk
 * is a second chance, never a failure of the request.
 */
export class DiskStore {
  readonly #dir: string;
  readonly #route: string;
  readonly #maxDisk: number;
  /** The largest file one of ours can be (its first line and a body of max_entry): a larger one is not read. */
  readonly #maxFile: number;
  /** What the route grants the answers it reads back (freshness.ts). */
  readonly #grants: CacheGrants;
  #writes = 0;
  #written = 0;
  #tmp = 0;
  /** A scan against max_disk is under way: another is not started beside it. */
  #trimming = false;
  /** A scan was asked for while one ran: it runs once that one is over. */
  #trimAgain = false;
  /**
   * The end of this worker's last write (and of the scan it asked for): the next begins after it.
   * Each on its own, many misses stored at once all landed before the scans their writes asked
   * for came round: 32 clients through two workers held 6 to 32 MB of 200 KB answers in a
   * `max_size: 1MiB` folder (in /dev/shm: memory). One at a time, a worker's writes pass the
   * bound by what it wrote since its last scan, at most a tenth of it and one answer.
   */
  #lastWrite: Promise<void> = Promise.resolve();
  /** The writes under way: the key of each and its end, by its temporary file. A removal or purge meanwhile cancels it. */
  readonly #pending = new Map<string, { key: string; done?: Promise<void> }>();
  /** Writes cancelled while under way (their temporary files): they rename nothing, or remove what they renamed. */
  readonly #cancelled = new Set<string>();
  /** The removals under way in the background (removeLater), by key: a read of the key waits for its removal. */
  readonly #removing = new Map<string, Promise<void>>();
  /** The purges under way (their prefix: all without one): a read of a key they cover is a miss. */
  readonly #purging = new Set<Purging>();
  /** One fetch of a key for every worker sharing the directory (fill-lock.ts). */
  readonly locks = new FillLocks(this);
  readonly #failures: DiskFailures;

  constructor(
    dir: string,
    route: string,
    maxDisk: number,
    maxEntry: number,
    grants: CacheGrants,
    tell?: DiskTell,
  ) {
    this.#dir = join(dir, routeDirName(route));
    this.#failures = new DiskFailures(tell, this.#dir, route);
    this.#route = route;
    this.#maxDisk = maxDisk;
    this.#maxFile = MAX_HEAD_LINE + 1 + maxEntry;
    this.#grants = grants;
    try {
      // The gateway's alone (as the spool's): answers to requests of its clients.
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    } catch {
      // Not made (a file there, no permission): reads and writes fail and are skipped, as any other.
    }
  }

  /** The file this key's answer is kept in. */
  fileOf(key: string): string {
    return this.#file(key);
  }

  #file(key: string): string {
    return join(this.#dir, entryName(this.#route, key));
  }

  /** The end of the key's writes under way (a fill's lock goes once they are over: fill-lock.ts). */
  writesOf(key: string): Promise<void> {
    const ends: Promise<void>[] = [];
    for (const pending of this.#pending.values())
      if (pending.key === key && pending.done !== undefined) ends.push(pending.done);
    return Promise.all(ends).then(() => {});
  }

  /**
   * A failed fetch's note was written (fill-lock.ts): it counts as a write toward the next scan,
   * which removes the notes past ORPHAN_AGE_MS. Without it a storm of failed fills of many keys
   * (an origin down, clients that leave mid-body), which writes no answer, was never scanned, and
   * left one note a key for good.
   */
  noted(): void {
    if (++this.#writes % SCAN_EVERY === 0) this.#trim().catch(() => {});
  }

  /** The answer stored for this key by any worker; undefined when none (or the file is not one of ours). */
  async read(key: string): Promise<StoredAnswer | undefined> {
    // Read after a removal asked before it, never before: the file it would find is the old answer.
    const removing = this.#removing.get(key);
    if (removing !== undefined) await removing;
    // A key a purge under way covers is a miss, at once: its file, if not removed yet, is of
    // before the purge, and waiting for a purge of a large directory would hold the request.
    for (const purge of this.#purging)
      if (purge.prefix === undefined || keyMatches(key, purge.prefix)) return;
    const file = this.#file(key);
    let bytes: Buffer | undefined;
    try {
      bytes = await readBounded(file, this.#maxFile);
    } catch (err) {
      // None stored is no news; a file that cannot be read (EIO, EACCES) is. Out of descriptors
      // (EMFILE, ENFILE) is the process's own want, not a damaged file: counted apart, as `read`.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT')
        this.#failures.notUsed(
          file,
          (err as Error).message,
          code === 'EMFILE' || code === 'ENFILE' ? 'read' : 'unread',
        );
      return undefined;
    }
    if (bytes === undefined)
      return this.#failures.notUsed(file, 'not a regular file, or larger than max_entry allows');
    const answer = answerOfFile(bytes, key, this.#grants);
    if (typeof answer === 'string') return this.#failures.notUsed(file, answer);
    const now = new Date();
    utimes(file, now, now).catch(() => {});
    return answer;
  }

  /**
   * Writes the answer for the other workers (in the background); then keeps the directory under
   * max_disk. A removal or purge of its key before it is over cancels it: its rename would
   * otherwise bring back the answer just purged, for every worker and after a restart.
   * `placed`: called once the file is in place, where another worker reading the key finds it.
   */
  write(answer: StoredAnswer, placed?: () => void): Promise<void> {
    const file = this.#file(answer.key);
    const tmp = `${file}.${process.pid}.${this.#tmp++}.tmp`;
    let scan = false;
    const pending: { key: string; done?: Promise<void> } = { key: answer.key };
    this.#pending.set(tmp, pending);
    const cancelled = () => this.#cancelled.has(tmp);
    const cancel = new Error('cancelled');
    // After this worker's write before it and its scan (#lastWrite); one cancelled meanwhile writes nothing.
    const write = async (): Promise<void> => {
      if (cancelled()) throw cancel;
      this.#written += answer.size;
      scan = ++this.#writes % SCAN_EVERY === 0 || this.#written > this.#maxDisk / 10;
      if (scan) this.#written = 0;
      const head = headLine(answer, { length: answer.body.length, digest: digestOf(answer.body) });
      const bytes = Buffer.concat([Buffer.from(`${head}\n`), answer.body]);
      await writeFile(tmp, bytes, { mode: 0o600 }).catch((err: NodeJS.ErrnoException) =>
        // The directory went (an operator's `rm -rf` to empty the cache): made again, not given up for the process's life.
        err.code === 'ENOENT'
          ? mkdir(this.#dir, { recursive: true, mode: 0o700 }).then(() =>
              writeFile(tmp, bytes, { mode: 0o600 }),
            )
          : Promise.reject(err),
      );
    };
    // Whether the file is in place, once it is (or is not: failed, or cancelled and removed).
    const inPlace: Promise<boolean> = this.#lastWrite
      .then(write)
      .then(() => (cancelled() ? Promise.reject(cancel) : rename(tmp, file)))
      // Cancelled while it was renamed: what it renamed goes.
      .then(() => (cancelled() ? removed(file) : true))
      .catch((err: Error) => {
        // Not written (a full disk, a folder turned read-only): the answer is served and kept in memory all the same.
        if (err !== cancel) this.#failures.writeFailed(err);
        return removed(tmp);
      });
    pending.done = inPlace.then(() => {});
    // An answer stored after a purge began is not of those it removes: its file stays (once in place).
    for (const purge of this.#purging)
      if (purge.prefix === undefined || keyMatches(answer.key, purge.prefix)) purge.since.set(file, inPlace);
    const over = inPlace
      .then((there) => {
        if (there) placed?.();
        // Scanned once the file is there, so that it counts too.
        return there && scan ? this.#trim() : undefined;
      })
      .catch(() => {})
      .finally(() => {
        this.#pending.delete(tmp);
        this.#cancelled.delete(tmp);
      });
    this.#lastWrite = over;
    return over;
  }

  /** The writes under way of the keys `named` are cancelled; returns their ends (a rename under way removes its file after). */
  #cancel(named: (key: string) => boolean): Promise<void>[] {
    const ends: Promise<void>[] = [];
    for (const [tmp, { key, done }] of this.#pending)
      if (named(key)) {
        this.#cancelled.add(tmp);
        if (done !== undefined) ends.push(done);
      }
    return ends;
  }

  /** Reads of the key wait for `removal` (a removal asked before them: the file they would find is the old answer). */
  #removingUntil(key: string, removal: Promise<unknown>): void {
    const over: Promise<void> = removal
      .catch(() => {})
      .then(() => {
        if (this.#removing.get(key) === over) this.#removing.delete(key);
      });
    this.#removing.set(key, over);
  }

  /**
   * Removes the key's file, if there is one: at once, so that the client whose request changed
   * the resource and reads it again next finds no file of the old answer, in this worker or another
   * (its answer leaves after). Synchronous, bounded by the request's own keys (2 or 3, per side of
   * a split): the other workers' removals on hearing of it are not (removeLater).
   */
  remove(key: string): void {
    const writes = this.#cancel((pending) => pending === key);
    try {
      unlinkSync(this.#file(key));
    } catch {}
    // A write caught in its rename puts the file back for an instant, and removes it after: reads wait for that.
    if (writes.length > 0) this.#removingUntil(key, Promise.all([this.#removing.get(key), ...writes]));
  }

  /**
   * Removes the key's file in the background: another worker's invalidation (CacheNews), which
   * removed the file it found already (this is for one this worker's write put back), so that
   * the news, relayed to every worker for every unsafe request, blocks none of them on the disk.
   * This worker's reads of the key wait for it meanwhile, and its writes of the key are cancelled.
   */
  removeLater(key: string): void {
    const writes = this.#cancel((pending) => pending === key);
    const removal = unlink(this.#file(key)).catch(() => {});
    this.#removingUntil(key, Promise.all([this.#removing.get(key), removal, ...writes]));
  }

  /**
   * Removes every file of the directory (or those under `prefix`: keyMatches); resolves to those
   * it removed. Asynchronous (as #trim): a directory of a hundred thousand answers is emptied
   * without stopping the worker's requests for the while. The writes under way of the keys are
   * cancelled at once, and a read of a key it covers meanwhile is a miss: the old file is never found.
   */
  purge(prefix?: string): Promise<Set<string>> {
    const writes = this.#cancel((key) => prefix === undefined || keyMatches(key, prefix));
    const purge: Purging = { prefix, since: new Map() };
    this.#purging.add(purge);
    // Over once the cancelled writes are too: one caught in its rename removes its file after.
    return Promise.all([this.#purgeFiles(purge), ...writes])
      .then(([removed]) => removed)
      .finally(() => this.#purging.delete(purge));
  }

  async #purgeFiles({ prefix, since }: Purging): Promise<Set<string>> {
    const removed = new Set<string>();
    const purgeOne = async (name: string): Promise<void> => {
      const file = join(this.#dir, name);
      // Stored since the purge began: kept once in place; if it failed, what is there is older.
      const later = since.get(file);
      if (later !== undefined && (await later)) return;
      if (prefix !== undefined) {
        const key = await keyOf(file);
        if (key === undefined || !keyMatches(key, prefix)) return;
      }
      await unlink(file).then(
        () => removed.add(file),
        () => {},
      );
    };
    const names = (await readdir(this.#dir).catch(() => [] as string[])).filter((n) => FILE_NAME.test(n));
    // PURGE_BATCH at a time: the disk's threads kept busy (one by one, a purge of 100,000 files
    // outlasted the primary's wait for the worker's answer), the open files bounded.
    for (let i = 0; i < names.length; i += PURGE_BATCH)
      await Promise.all(names.slice(i, i + PURGE_BATCH).map(purgeOne));
    return removed;
  }

  /**
   * The oldest files go until the directory holds at most max_disk bytes. Asynchronous, one call
   * at a time: a directory of a hundred thousand answers is scanned without stopping the
   * worker's requests for the while (as the synchronous scan did, every 64 writes).
   */
  async #trim(): Promise<void> {
    // One asked for meanwhile runs after this one: the files it was asked for may have come
    // after this one's listing, and the bound must hold after the last write, not the one before.
    if (this.#trimming) {
      this.#trimAgain = true;
      return;
    }
    this.#trimming = true;
    try {
      const files: { file: string; size: number; time: number }[] = [];
      let total = 0;
      const names = await readdir(this.#dir).catch(() => [] as string[]);
      // A temporary file's age on the file system's clock, which stamped it: the folder's own time
      // is its last file made, renamed or removed (this scan follows a write, or a note, of its
      // own). Against Date.now(), a folder whose clock runs a minute behind the process's (a
      // share, NFS) had every write under way, every fill streaming in, a dead worker's.
      const now = (await stat(this.#dir).catch(() => undefined))?.mtimeMs ?? Date.now();
      for (const name of names) {
        const orphan = TMP_NAME.test(name);
        if (!orphan && !FILE_NAME.test(name)) continue;
        const file = join(this.#dir, name);
        const found = await stat(file).catch(() => undefined);
        if (found === undefined) continue;
        // A dead worker's temporary file was never counted nor removed: each crash left its writes.
        if (orphan) {
          if (now - found.mtimeMs > ORPHAN_AGE_MS) await unlink(file).catch(() => {});
          continue;
        }
        files.push({ file, size: found.size, time: found.mtimeMs });
        total += found.size;
      }
      files.sort((a, b) => a.time - b.time);
      for (const { file, size } of files) {
        if (total <= this.#maxDisk) break;
        await unlink(file).catch(() => {});
        total -= size;
      }
    } finally {
      this.#trimming = false;
    }
    if (this.#trimAgain) {
      this.#trimAgain = false;
      await this.#trim();
    }
  }
}

/**
 * The route's subdirectory: its name as it is where a file name may hold it (`%2Fpages` for the
 * default name of a route on `/pages`), else (`.`, `..`, too long for a file system) its hash.
 */
export function routeDirName(route: string): string {
  const name = encodeURIComponent(route);
  return name.length <= 200 && name !== '.' && name !== '..'
    ? name
    : createHash('sha256').update(route).digest('hex');
}

/** Removes the file (if it is there): false, the answer it held is not in place. */
function removed(file: string): Promise<false> {
  return unlink(file).then(
    () => false,
    () => false,
  );
}
