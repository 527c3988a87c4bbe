import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * A file of the gateway's own state (a canary's verdict kept across restarts, ACME's keys and
 * certificates, a fleet's last good config), read whole and
 * synchronously as it is needed, but never waited on nor read without end: opened without
 * blocking, so a FIFO put in its place is not waited on for a writer (a plain readFileSync held
 * the process there for good), and taken only when it is a regular file of at most `max` bytes
 * (a link to /dev/zero was read until memory ran out). What fs throws is thrown (ENOENT: none
 * kept); a file that is no such file throws an error saying so.
 */
export function readStateFile(path: string, max: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const facts = fstatSync(fd);
    // A folder is told as fs tells it to a plain read.
    if (facts.isDirectory())
      throw Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' });
    if (!facts.isFile()) throw new Error(`${path} is not a regular file`);
    if (facts.size > max) throw new Error(`${path} is larger than ${max} bytes`);
    const bytes = Buffer.allocUnsafe(facts.size);
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(fd, bytes, filled, bytes.length - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return bytes.subarray(0, filled).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * What an opened file holds from its start, into `bytes` until they are full or the file ends
 * (a read may give less than asked): the bytes read. A bounded read's buffer is its bound.
 */
export async function readUpTo(handle: FileHandle, bytes: Buffer): Promise<Buffer> {
  let filled = 0;
  while (filled < bytes.length) {
    const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}
