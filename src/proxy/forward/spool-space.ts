import { randomBytes } from 'node:crypto';
import { open } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULTS } from '../../core/config/defaults.ts';
import type { SpoolLimits } from '../../core/config/types.ts';
import { SPOOL_ROOM_TO_BEGIN } from '../../core/limits/spool-share.ts';
import type { AnswerOverflow, OverflowedAnswer, OverflowOutlet } from './answer-overflow.ts';
import { AnswerSpool, type SpoolDisk } from './answer-spool.ts';
import { privateSpoolDir } from './spool-dir.ts';

/** Every spool file's name starts so: what a start removes from the directory, and nothing else. */
const PREFIX = 'candor-spool-';

/** A failed write is told at most once in this long, however many responses meet the full disk. */
const WRITE_FAILURE_NOTICE_MS = 60_000;

/** What the spool tells the operator: a write to a spool file that failed (a full disk), once a minute at most; a response's bytes spooled. */
export interface SpoolTell {
  writeFailed(error: Error, dir: string): void;
  spooled(route: string, bytes: number): void;
}

/**
 * The disk spooled responses may take in this process (`limits.spool`, `limits.spool_dir`):
 * the bounds and the bytes held now. A reload makes a new space with the new bounds on the
 * same count (the files of responses still spooling are counted until they close). It is the
 * gateway's overflow (answer-overflow.ts): a slow client's response past its buffer takes a
 * file of it (answer-spool.ts).
 */
export class SpoolSpace implements AnswerOverflow, SpoolDisk {
  readonly dir: string;
  readonly maxAnswer: number;
  readonly maxTotal: number;
  /** Bytes the open spool files hold, shared with the spaces of earlier snapshots (and when a failed write was last told). */
  readonly #held: { bytes: number; toldAt: number };
  readonly #tell: SpoolTell;
  /** The folder the files go in: `dir`, once made and found the gateway's user's alone, or one of its own in its place (spool-dir.ts). */
  #dirMade: Promise<string> | undefined;
  #files = 0;

  constructor(limits: SpoolLimits, dir: string, tell: SpoolTell, previous?: SpoolSpace) {
    this.dir = dir;
    this.maxAnswer = limits.maxResponse;
    this.maxTotal = limits.maxTotal;
    this.#tell = tell;
    this.#held = previous === undefined ? { bytes: 0, toldAt: -Infinity } : previous.#held;
    if (previous !== undefined && previous.dir === dir) this.#dirMade = previous.#dirMade;
  }

  /** Bytes the spool files of this process hold now. */
  get overflowBytes(): number {
    return this.#held.bytes;
  }

  /**
   * Less room left than one read from the upstream takes (`max_total` spent by the files of
   * other slow readers): a response begun now would wait in memory, not in a file, so none is
   * begun, and its upstream waits for the client as without a spool.
   */
  get full(): boolean {
    return this.maxTotal - this.#held.bytes < SPOOL_ROOM_TO_BEGIN;
  }

  /** A response whose client fell behind past its buffer: a spool file takes its rest, unless the space is full. */
  take(outlet: OverflowOutlet, route: string): OverflowedAnswer | undefined {
    return this.full ? undefined : new AnswerSpool(this, outlet, route);
  }

  /** Takes `bytes` of the total for a file that grows; false when the total has no room for them. */
  reserve(bytes: number): boolean {
    if (this.#held.bytes + bytes > this.maxTotal) return false;
    this.#held.bytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#held.bytes -= bytes;
  }

  /** A write to a spool file failed: its response goes on from memory; the operator hears of it. */
  writeFailed(error: Error): void {
    const now = performance.now();
    if (now - this.#held.toldAt < WRITE_FAILURE_NOTICE_MS) return;
    this.#held.toldAt = now;
    this.#tell.writeFailed(error, this.dir);
  }

  /** A spooled response closed, `bytes` having gone through its file. */
  spooled(route: string, bytes: number): void {
    this.#tell.spooled(route, bytes);
  }

  /**
   * A new file, owner-only, unlinked as soon as it is open: the descriptor is all that holds it,
   * so a process that dies leaves nothing behind (the kernel frees it) but for a crash in the
   * instant between the two calls, which the next start sweeps up (clearSpoolDir).
   */
  async open(): Promise<number> {
    try {
      return await this.#openIn();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // The directory went since it was made (a tmp cleaner, an operator's `rm -rf`): made again,
      // once, rather than spooling off for the process's life.
      this.#dirMade = undefined;
      return this.#openIn();
    }
  }

  async #openIn(): Promise<number> {
    // Made once; a failure (a directory not there yet, its rights) is tried again by the next response.
    this.#dirMade ??= privateSpoolDir(this.dir, this.dir === DEFAULTS.limits.spoolDir()).catch(
      (err: unknown) => {
        this.#dirMade = undefined;
        throw err;
      },
    );
    const dir = await this.#dirMade;
    const path = join(dir, `${PREFIX}${process.pid}-${++this.#files}-${randomBytes(6).toString('hex')}`);
    // A descriptor, not a FileHandle: positional reads and writes with callbacks, closed by its spool.
    const fd = await new Promise<number>((resolve, reject) =>
      open(path, 'wx+', 0o600, (err, fd) => (err ? reject(err) : resolve(fd))),
    );
    // Another process's start may have swept it already: the descriptor still holds the file.
    await unlink(path).catch(() => {});
    return fd;
  }
}

/**
 * Removes the spool files a process left (one killed between opening a file and unlinking it),
 * at start. Safe beside a running gateway on the same directory: its files are unlinked already,
 * and one caught in that instant lives on through its descriptor.
 */
export async function clearSpoolDir(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const left = names.filter((name) => name.startsWith(PREFIX));
  await Promise.all(left.map((name) => unlink(join(dir, name)).catch(() => {})));
  return left.length;
}
