/**
 * A file opened under a static route's root, and only there: the name is joined under the root's
 * real path, opened without following a symbolic link at its last component (O_NOFOLLOW) nor
 * blocking on a FIFO (O_NONBLOCK), and then the file actually opened is asked where it is: the
 * real path of its descriptor (/proc/self/fd on Linux; elsewhere the real path of the name, which
 * must be the same file as the descriptor's, by device and inode). A symbolic link in any
 * component that leads out of the root, or a file swapped for one between the check and the open,
 * is caught there, after the open, on the descriptor: what is read is what was checked.
 */
import { type BigIntStats, constants } from 'node:fs';
import { type FileHandle, open, readlink, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Failure } from '../../core/failure/failure.ts';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** An opened file: its handle and its facts (bigint: the ETag reads mtime to the nanosecond). */
export interface OpenedFile {
  readonly handle: FileHandle;
  readonly stats: BigIntStats;
}

/** Why no file was opened: none (or not a regular file), a directory, or one outside the root. */
export type NotOpened = 'missing' | 'directory' | 'outside';

/** Opens `segments` under `root` (its real path), or says why not. */
export async function openUnder(root: string, segments: readonly string[]): Promise<OpenedFile | NotOpened> {
  const path = join(root, ...segments);
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (err) {
    return notOpened(err as NodeJS.ErrnoException);
  }
  try {
    const stats = await handle.stat({ bigint: true });
    const where = await placeOf(handle, path, stats);
    if (where === undefined || (where !== root && !where.startsWith(root + sep))) {
      await handle.close();
      return 'outside';
    }
    if (stats.isDirectory()) {
      await handle.close();
      return 'directory';
    }
    if (!stats.isFile()) {
      await handle.close();
      return 'missing';
    }
    return { handle, stats };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** Names a request may not open: nothing there, or nothing the gateway may read (told alike: 404). */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR']);

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
    });
  throw new Failure(
    'proxy_internal_error',
    `a static file could not be opened (${err.code ?? err.message})`,
    {
      cause: err,
    },
  );
}

/** Where the opened file really is: its descriptor's real path, or the name's when it is the same file. */
async function placeOf(handle: FileHandle, path: string, stats: BigIntStats): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    // No /proc (macOS, BSD): the name's real path, if it still names the file that was opened.
    try {
      const real = await realpath(path);
      const named = await stat(real, { bigint: true });
      return named.ino === stats.ino && named.dev === stats.dev ? real : undefined;
    } catch {
      return undefined;
    }
  }
}
