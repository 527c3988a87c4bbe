import { constants } from 'node:fs';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskStore } from './disk-store.ts';
import type { Fill } from './fill.ts';
import { FillStream } from './fill-stream.ts';
import type { CacheGrants } from './freshness.ts';
import { ownerGone, type StoreOwner } from './store-owner.ts';
import { answerOfHead, headLine, headOf, MAX_HEAD_LINE } from './stored-head.ts';

/**
 * A Range's fill (cache-run.ts, fill-stream.ts) shared with the other workers on the cache
 * folder as it streams in, as nginx's proxy_cache does not (its other workers wait for the
 * lock): the worker holding the key's lock (fill-lock.ts) writes the answer to `<file>.fill` as
 * its bytes come, its head line first (the stored answer's, with its length and the lock's
 * inode: a follower knows the file is of the lock it found, not one a killed worker left), and
 * removes it once over; the answer's own file is still written whole when it is (disk-store.ts).
 * A worker finding the lock held follows that file (followFillFile) into a FillStream of its own,
 * which its waiting Ranges follow as they would their own worker's (fill-follow.ts).
 *
 * A follower looks for more every LOOK_EVERY_MS, as a lock's wait does: fs.watch is inotify on
 * a local disk but says nothing of another host's writes to a shared folder (NFS), and one look
 * a key a worker (its Ranges follow its stream in memory) costs one fstat.
 */

/** How often a follower looks for its fill's file, then for more of it (fill-lock.ts's LOOK_EVERY_MS). */
const LOOK_EVERY_MS = 20;
/** The most read off the file at once: a follower catching up holds the disk no longer. */
const READ_AT_MOST = 1024 * 1024;

/** Fill files this process made, for a name of its own to write each under before it is in place. */
let fills = 0;

/** The file a key's fill streams into, beside the key's answer's `file`. */
function fillFileOf(file: string): string {
  return `${file}.fill`;
}

/** Shares `stream` (this worker's Range fill, whose lock it holds) with the other workers; nothing without a disk, a stream or the lock. */
export function shareFill(disk: DiskStore | undefined, stream: FillStream | undefined): void {
  if (disk === undefined || stream === undefined) return;
  const key = stream.head.key;
  const lock = disk.locks.lockInode(key);
  if (lock === undefined) return;
  // The lock goes once the file is written whole and removed: a follower seeing it go has all there was.
  disk.locks.releaseAfter(key, writeFill(fillFileOf(disk.fileOf(key)), lock, stream));
}

/**
 * Writes the stream's head, then its bytes as they come, until it ends; then the file goes. One
 * that stops short (the stream cut, a write failed) is emptied first: its followers, who hold it
 * open, see it shrink and cut their answers, at once, whatever name it has by then.
 */
async function writeFill(path: string, lock: number, stream: FillStream): Promise<void> {
  const made = `${path}.${process.pid}.${fills++}`;
  let handle: FileHandle | undefined;
  let ino: number | undefined;
  let at = 0;
  try {
    handle = await open(made, 'wx', 0o600);
    ino = (await handle.stat()).ino;
    const head = Buffer.from(`${headLine(stream.head, { length: stream.length, lock })}\n`);
    await handle.write(head, 0, head.length, 0);
    // In place with its head whole: a follower never reads half a head line.
    await rename(made, path);
    for (;;) {
      for (const bytes of stream.bytes(at, stream.length - 1)) {
        await handle.write(bytes, 0, bytes.length, head.length + at);
        at += bytes.length;
      }
      if (at >= stream.length || typeof stream.ended === 'object') return;
      if (stream.ended !== undefined && at >= stream.size) return;
      if (at === stream.size) await more(stream);
    }
  } catch {
    // Not written (a full disk): emptied and removed below, as a cut one.
  } finally {
    if (at < stream.length) await handle?.truncate(0).catch(() => {});
    await handle?.close().catch(() => {});
    await unlink(made).catch(() => {});
    // Its own file only: one a later taker of the lock put in its place is that one's.
    if (ino !== undefined && (await stat(path).catch(() => undefined))?.ino === ino)
      await unlink(path).catch(() => {});
  }
}

/** Resolves once the stream has more bytes or ends. */
function more(stream: FillStream): Promise<void> {
  return new Promise((resolve) => {
    const heard = () => {
      stream.unfollow(heard);
      resolve();
    };
    stream.follow(heard);
  });
}

/** What a follower is bound by: the route's lock_timeout, max_entry, and what it grants a stored answer. */
export interface FollowBounds {
  readonly lockTimeout: number;
  readonly maxEntry: number;
  readonly grants: CacheGrants;
}

/**
 * Follows another worker's fill of the key (its lock held) into `fill`'s stream: its file looked
 * for until it is there (the other's head said the answer will be kept), the lock goes (nothing
 * to follow: its end is read from the store), or lock_timeout passes; then read as it grows. The
 * stream is whole once the file has the answer's length; cut when its writer stops short (the
 * file emptied, the lock's owner gone) or nothing comes for lock_timeout.
 * Resolves once the file is followed to its end, or was not found.
 */
export async function followFillFile(
  disk: DiskStore,
  key: string,
  fill: Fill,
  bounds: FollowBounds,
): Promise<void> {
  const lock = await disk.locks.lockNow(key);
  if (lock === undefined) return;
  const path = fillFileOf(disk.fileOf(key));
  const until = Date.now() + bounds.lockTimeout;
  let opened: Opened | undefined;
  for (;;) {
    opened = await openFill(path, key, lock.ino, bounds).catch(() => undefined);
    if (opened !== undefined) break;
    if (!(await stillLocked(disk, key, lock.ino)) || Date.now() >= until) return;
    await sleep(LOOK_EVERY_MS);
  }
  try {
    await readGrowing(lock.owner, opened, fill, bounds.lockTimeout);
  } catch {
    // A read that failed (EIO): its followers' answers are cut, never left waiting.
    opened.stream.cut('its fill file could not be read');
  } finally {
    await opened.handle.close().catch(() => {});
  }
}

interface Opened {
  readonly handle: FileHandle;
  readonly stream: FillStream;
  /** Where the body starts in the file. */
  readonly body: number;
}

/** The fill file of the lock `ino`, opened and its head read; undefined: not there, or not that lock's. */
async function openFill(
  path: string,
  key: string,
  ino: number,
  bounds: FollowBounds,
): Promise<Opened | undefined> {
  // Without blocking: a FIFO put in its place is not waited on (disk-files.ts).
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const facts = await handle.stat();
    if (!facts.isFile()) throw new Error('not a file');
    const start = Buffer.allocUnsafe(Math.min(facts.size, MAX_HEAD_LINE + 1));
    const { bytesRead } = await handle.read(start, 0, start.length, 0);
    const found = headOf(start.subarray(0, bytesRead));
    const length = found?.head.length;
    if (found === undefined || found.head.lock !== ino || typeof length !== 'number')
      throw new Error('not ours');
    if (!Number.isSafeInteger(length) || length < 0 || length > bounds.maxEntry) throw new Error('not ours');
    const head = answerOfHead(found.head, key, Buffer.alloc(0), bounds.grants);
    if (head === undefined) throw new Error('not ours');
    return { handle, stream: new FillStream(head, length), body: found.body };
  } catch {
    await handle.close().catch(() => {});
    return undefined;
  }
}

/**
 * Reads the file as it grows into its stream (told to `fill`'s Ranges), until whole or cut. Its
 * writer's failure is the file emptied (writeFill), or its `owner` gone (killed): not the lock
 * going, nor the file's name (another worker may take the lock over past its lock_timeout, and
 * put its own file in this one's place, while this one's writer goes on).
 */
async function readGrowing(
  owner: StoreOwner | undefined,
  { handle, stream, body }: Opened,
  fill: Fill,
  lockTimeout: number,
): Promise<void> {
  fill.streams(stream);
  let quietSince = Date.now();
  for (;;) {
    // Asked before the read: what a worker killed meanwhile wrote before it died is read now.
    const alive = owner === undefined || !ownerGone(owner);
    const before = stream.size;
    const there = (await handle.stat()).size - body;
    if (there < before) return stream.cut('the worker fetching it stopped short (its fill file was emptied)');
    while (stream.size < Math.min(there, stream.length)) {
      const chunk = Buffer.allocUnsafe(
        Math.min(READ_AT_MOST, there - stream.size, stream.length - stream.size),
      );
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, body + stream.size);
      if (bytesRead === 0) break;
      stream.add(chunk.subarray(0, bytesRead));
    }
    if (stream.size >= stream.length) return stream.whole();
    if (stream.size > before) quietSince = Date.now();
    if (!alive) return stream.cut('the worker fetching it is gone (killed before its fill file was whole)');
    if (Date.now() - quietSince >= lockTimeout)
      return stream.cut(`the worker fetching it wrote nothing more for lock_timeout (${lockTimeout} ms)`);
    await sleep(LOOK_EVERY_MS);
  }
}

/** Whether the lock `ino` still holds the key, its owner not known gone (a killed worker's lock stays, its fill over): its file may come. */
async function stillLocked(disk: DiskStore, key: string, ino: number): Promise<boolean> {
  const now = await disk.locks.lockNow(key);
  if (now === undefined || now.ino !== ino) return false;
  return now.owner === undefined || !ownerGone(now.owner);
}
