import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { readUpTo } from '../../core/state-file.ts';

/**
 * What is read off a file of `cache.dir` (disk-store.ts): each opened without blocking, so that
 * a FIFO put in a file's place is not waited on, and never taken whole past a bound.
 */

/**
 * The file's bytes, when it is a regular file no larger than `maxFile`, the largest one of ours
 * can be (else undefined, nothing read): a file put there by another hand is never taken whole
 * into memory.
 */
export async function readBounded(file: string, maxFile: number): Promise<Buffer | undefined> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const found = await handle.stat();
    if (!found.isFile() || found.size > maxFile) return undefined;
    return await readUpTo(handle, Buffer.allocUnsafe(found.size));
  } finally {
    await handle.close();
  }
}

/** The largest lock token or fetch-end note one of ours is (fill-lock.ts): a larger file is not one. */
const MAX_NOTE = 64 * 1024;

/**
 * A small file's text (a fetch lock's token, a fetch's end note: fill-lock.ts); undefined when it
 * is gone, cannot be read, or is no regular file of at most MAX_NOTE bytes. Never waits: a FIFO in
 * its place held a thread of the pool every file operation of the worker shares until a writer
 * came (five of them stopped the worker), and /dev/zero was read without end.
 */
export function readNote(file: string): Promise<string | undefined> {
  return readBounded(file, MAX_NOTE).then(
    (bytes) => bytes?.toString('latin1'),
    () => undefined,
  );
}

/** The key a file holds, read off the start of its first line (the key is written first, and short). */
export async function keyOf(file: string): Promise<string | undefined> {
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    let start: Buffer;
    try {
      const read = await handle.read(Buffer.alloc(16 * 1024), 0, 16 * 1024, 0);
      start = read.buffer.subarray(0, read.bytesRead);
    } finally {
      await handle.close();
    }
    const quoted = /^\{"key":("(?:[^"\\]|\\.)*")/.exec(start.toString('utf8'));
    return quoted === null ? undefined : JSON.parse(quoted[1]);
  } catch {
    return undefined;
  }
}
