import type { Stats } from 'node:fs';

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  // `candor.yaml/` or `conf.d/a.yaml/x.yaml`: a name on the way is a file.
  ENOTDIR: 'a name on its path is a file, not a folder',
  ELOOP: 'too many symbolic links on its path (links that point at each other?)',
  ENAMETOOLONG: 'its name is too long',
  // open() of a socket (`/dev/stdin` when it is one) or of a device with nothing behind it.
  ENXIO: 'a socket, or a device not there: a config is read from a file',
};

/**
 * A config named as a FIFO, a socket or a device: not read. A FIFO nobody writes to held
 * `candor check` and `serve` in their open() for ever (nginx -t and haproxy -c hang there too),
 * and one that is written to (`<(render)`, `/dev/stdin` from a pipe) was read once to tell a
 * fleet's bootstrap file, leaving nothing for the config ("got nothing"); a reload could not
 * read it again anyway.
 */
export class NotRegularFile extends Error {
  constructor(stat: Stats) {
    super(
      `not a regular file but ${kindOf(stat)}: a config is read from a file, and again at each reload; write it to one and name that`,
    );
  }
}

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a pipe (FIFO)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'something else';
}

/** Why a file could not be read, in words rather than errno codes where the code is a common one. */
export function readErrorReason(error: unknown): string {
  if (error instanceof NotRegularFile) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  return (code === undefined ? undefined : REASONS[code]) ?? code ?? String(error);
}
