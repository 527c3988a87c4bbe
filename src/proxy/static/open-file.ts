/**
 * A file opened under a static route's root, and only there: the name is joined under the root's
 * real path, opened without following a symbolic link at its last component (O_NOFOLLOW) nor
 * blocking on a FIFO (O_NONBLOCK), and then the file actually opened is asked where it is: the
 * real path of its descriptor (/proc/self/fd on Linux; elsewhere the real path of the name, which
 * must be the same file as the descriptor's, by device and inode). A symbolic link in any
 * component that leads out of the root, or a file swapped for one between the check and the open,
 * is caught there, after the open, on the descriptor: what is read is what was checked.
 */
import { type BigIntStats, close, constants, fstat, open, read, readlink, realpath, stat } from 'node:fs';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Failure } from '../../core/failure/failure.ts';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * An opened file: its descriptor and its facts (bigint: the ETag reads mtime to the nanosecond).
 * A descriptor and node:fs's callbacks, not fs/promises' FileHandle: a request opens, checks, reads
 * and closes a file in six calls, and through FileHandle and its promises those cost a request
 * about twice the CPU (45 against 25 µs on the 2-core VM, bench/static-files.ts), the body's
 * reads alike.
 */
export class OpenedFile {
  readonly fd: number;
  readonly stats: BigIntStats;
  /** The body's stream reading from it, once made: it closes the descriptor (close). */
  #stream: Readable | undefined;
  #closed = false;
  /** Calls on the descriptor under way (restat, readAt): a close waits for them. */
  #busy = 0;
  #closeWhenIdle = false;

  constructor(fd: number, stats: BigIntStats) {
    this.fd = fd;
    this.stats = stats;
  }

  /** Its facts now (the read's check that the file did not change under it). */
  restat(): Promise<BigIntStats> {
    return this.#call((done) => fstat(this.fd, { bigint: true }, done));
  }

  /** `length` bytes from `position` into `into`; resolves to how many were read. */
  readAt(into: Buffer, position: number, length: number): Promise<number> {
    return this.#call((done) => read(this.fd, into, 0, length, position, done));
  }

  /**
   * Whether the file is still the one opened: its inode, size and modification time (an edit in
   * place, a truncation show), and its change time: an edit whose modification time was
   * put back (`cp -p`, `rsync --inplace -t`, a reproducible build's fixed time) moves it, and no
   * one can set it. Unless its links changed: the name removed, or a deploy's rename over it,
   * moves it too, and leaves the bytes on the descriptor as they were (sent whole).
   */
  async unchanged(): Promise<boolean> {
    const now = await this.restat();
    const { stats } = this;
    return (
      now.size === stats.size &&
      now.mtimeNs === stats.mtimeNs &&
      now.ino === stats.ino &&
      (now.ctimeNs === stats.ctimeNs || now.nlink !== stats.nlink)
    );
  }

  /** One call on the descriptor, counted so that a close waits for its end (the number is never another's under it). */
  #call<T>(start: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the file is closed'));
    this.#busy++;
    return new Promise<T>((resolve, reject) =>
      start((err, value) => {
        if (--this.#busy === 0 && this.#closeWhenIdle) close(this.fd, ignored);
        if (err) reject(err);
        else resolve(value);
      }),
    );
  }

  /** The stream its body is read by, from now on the one that closes the descriptor. */
  readBy(stream: Readable): void {
    this.#stream = stream;
  }

  /**
   * Closes the descriptor, once. With a stream, by destroying it: a file stream closes its
   * descriptor when destroyed (autoClose or not), after the read under way finished, so no read is
   * ever made of a number the kernel gave another file or socket since; destroyed already (a cut
   * body), it closed it then, and closing it again here would close whatever took the number.
   * Without one, once the calls under way ended, for the same reason.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream !== undefined) this.#stream.destroy();
    else if (this.#busy > 0) this.#closeWhenIdle = true;
    else close(this.fd, ignored);
  }
}

function ignored(): void {}

/** Why no file was opened: none (or not a regular file), a directory, or one outside the root. */
export type NotOpened = 'missing' | 'directory' | 'outside';

/** Opens `segments` under `root` (its real path), or says why not. */
export async function openUnder(root: string, segments: readonly string[]): Promise<OpenedFile | NotOpened> {
  const path = join(root, ...segments);
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) =>
      open(path, FLAGS, (err, opened) => (err ? reject(err) : resolve(opened))),
    );
  } catch (err) {
    const why = notOpened(err as NodeJS.ErrnoException);
    return why === 'outside' ? linkedDirectory(root, path) : why;
  }
  try {
    const stats = await new Promise<BigIntStats>((resolve, reject) =>
      fstat(fd, { bigint: true }, (err, facts) => (err ? reject(err) : resolve(facts))),
    );
    const where = await placeOf(fd, path, stats);
    const refused: NotOpened | undefined = !isUnder(root, where)
      ? 'outside'
      : stats.isDirectory()
        ? 'directory'
        : stats.isFile()
          ? undefined
          : 'missing';
    if (refused === undefined) return new OpenedFile(fd, stats);
    close(fd, ignored);
    return refused;
  } catch (err) {
    close(fd, ignored);
    throw err;
  }
}

/**
 * A symbolic link as the last name (refused by O_NOFOLLOW) that names a directory under root is
 * that directory (`latest -> v2`): its files are served through it already (a link on the way is
 * followed, and the descriptor checked), so its own name is sent to its `/` as any directory's,
 * not a 404 beside a 200 for `latest/`. Opened as a directory (O_DIRECTORY: a link to a file
 * fails, and stays refused) and asked where it is, as a file is; anything else stays `outside`.
 */
function linkedDirectory(root: string, path: string): Promise<NotOpened> {
  return new Promise((resolve) =>
    open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK, (err, fd) => {
      if (err) return resolve('outside');
      fstat(fd, { bigint: true }, (failed, stats) => {
        if (failed) {
          close(fd, ignored);
          return resolve('outside');
        }
        placeOf(fd, path, stats).then((where) => {
          close(fd, ignored);
          resolve(isUnder(root, where) ? 'directory' : 'outside');
        });
      });
    }),
  );
}

/**
 * The real path of a route's root, asked at each request: a root that is a symbolic link
 * (`current -> releases/42`, swapped by a deploy) serves the release it names now, and a root
 * made or put back after the config was loaded is served without a reload. Undefined when it is
 * not there (every path under it is then not found); the gateway's own trouble is told as a
 * file's would be (a 503 out of descriptors, a 500 naming any other error).
 */
export function realRoot(root: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    realpath.native(root, (err, real) => {
      if (!err) return resolve(real);
      try {
        notOpened(err);
        resolve(undefined);
      } catch (failure) {
        reject(failure);
      }
    }),
  );
}

/**
 * Names a request may not open: nothing there, nothing the gateway may read, or no regular file
 * that open(2) refuses before any fstat could say so (ENXIO: a Unix socket, or a device file with
 * no device behind it; ENODEV alike), told as a FIFO is: a 404, never the gateway's own trouble.
 */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR', 'ENXIO', 'ENODEV']);

/**
 * Why a file could not be opened, as the request's answer: a name the route does not serve (a
 * link at its last component, ELOOP under O_NOFOLLOW: `outside`), nothing there, or the gateway's
 * own trouble, never told as a missing file: out of descriptors is a 503 with Retry-After, any
 * other error (EIO) a 500 whose details name it.
 */
function notOpened(err: NodeJS.ErrnoException): NotOpened {
  if (err.code === 'ELOOP') return 'outside';
  if (err.code !== undefined && ABSENT.has(err.code)) return 'missing';
  if (err.code === 'EMFILE' || err.code === 'ENFILE')
    throw new Failure('proxy_resources_exhausted', `a static file could not be opened (${err.code})`, {
      retryAfter: 1,
      cause: err,
      // The kind's own words are of an upstream connection: a static route has no upstream.
      variant: 'static_file_descriptors',
    });
  throw new Failure(
    'proxy_internal_error',
    `a static file could not be opened (${err.code ?? err.message})`,
    {
      cause: err,
    },
  );
}

/** Whether a real path is root or a name under it (a root of `/` ends in its separator already). */
function isUnder(root: string, where: string | undefined): boolean {
  return where !== undefined && (where === root || where.startsWith(root.endsWith(sep) ? root : root + sep));
}

/** Where the opened file really is: its descriptor's real path, or the name's when it is the same file. */
function placeOf(fd: number, path: string, stats: BigIntStats): Promise<string | undefined> {
  return new Promise((resolve) =>
    readlink(`/proc/self/fd/${fd}`, (err, place) => {
      if (!err) return resolve(place);
      // No /proc (macOS, BSD): the name's real path, if it still names the file that was opened.
      realpath(path, (notReal, real) => {
        if (notReal) return resolve(undefined);
        stat(real, { bigint: true }, (gone, named) =>
          resolve(!gone && named.ino === stats.ino && named.dev === stats.dev ? real : undefined),
        );
      });
    }),
  );
}
