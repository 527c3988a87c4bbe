import path from 'node:path';
import { NEWLINE } from './dropped-lines.ts';

// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the cluster primary's memory
// (test/server/cli/lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');

/**
 * What the line writer needs to know of its destination, and how it opens one: the
 * descriptor's kind, a file opened for appending, stdout or stderr kept non-blocking. Read
 * once, when a writer is made or reopened, never per line.
 */

/**
 * Opens (appending, creating its folder) a log file: at the writer's start and at each reopen.
 * `waitForReader`: a named pipe without a reader is waited for (the start, as before); a reopen
 * does not wait (ENXIO): it runs on the gateway's loop (SIGUSR1, logrotate's postrotate), and a
 * log shipper down then held every request until it came back. The old descriptor stays.
 */
export function openLogFile(file: string, waitForReader = true): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!waitForReader && isNamedPipe(file)) {
    const { O_WRONLY, O_APPEND, O_NONBLOCK } = fs.constants;
    return fs.openSync(file, O_WRONLY | O_APPEND | O_NONBLOCK);
  }
  return openAppending(file);
}

function isNamedPipe(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isFIFO() === true;
}

/**
 * stdout or stderr on a pipe or socket (a log shipper, journald, a container runtime) is
 * inherited blocking: a write to it whose reader stopped reading blocks a thread-pool thread
 * for as long as it does, and a process cannot exit while one does (libuv joins its threads
 * at exit), so a SIGTERM'd gateway hung until killed. Node's own stdout stream opens the
 * descriptor non-blocking (libuv's uv_pipe_open), and a full pipe is then an EAGAIN this
 * writer tries again shortly, never a blocked thread. The flag belongs to the pipe's open
 * file description, shared with every process that inherited it, and each Node process puts
 * back at its exit the flag it started with: the config-reading process, or a worker forked
 * before, makes it blocking again when it ends. So the switch returned is flipped again
 * before each write (one fcntl pair a batch).
 */
export function nonBlockingSwitch(fd: number): (() => void) | undefined {
  if (fd !== 1 && fd !== 2) return undefined;
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFIFO() && !stat.isSocket()) return undefined;
  } catch {
    // Not open: its writes will fail and be counted.
    return undefined;
  }
  const stream = fd === 1 ? process.stdout : process.stderr;
  // The handle's own switch (uv_stream_set_blocking), as Node uses it for stdio on Windows.
  const handle = (stream as unknown as { _handle?: { setBlocking?(blocking: boolean): number } })._handle;
  if (typeof handle?.setBlocking !== 'function') return undefined;
  return () => handle.setBlocking?.(false);
}

/**
 * stdout or stderr on a pipe: a descriptor of the writer's own, opened non-blocking through
 * /proc/self/fd, a new open file description of the same pipe. The flag nonBlockingSwitch sets
 * belongs to the description every process of the gateway shares, and each puts it back to
 * blocking at its exit: a worker that exits between another's switch and its write left that
 * write blocked on a full pipe (a thread-pool thread the exit joins, or the exit's own
 * synchronous flush), and the drain waited for it until the worker was killed. On its own
 * description the flag is this writer's alone. Undefined where none can be had (a socket, no
 * /proc, a pipe whose reader is gone): the switch then.
 */
export function privatePipeDescriptor(fd: number): number | undefined {
  if (fd !== 1 && fd !== 2) return undefined;
  try {
    if (!fs.fstatSync(fd).isFIFO()) return undefined;
    const { O_WRONLY, O_NONBLOCK } = fs.constants;
    return fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_NONBLOCK);
  } catch {
    return undefined;
  }
}

/**
 * A log file opened for appending. A FIFO (a log shipper's named pipe) is opened blocking,
 * waiting for its reader as before, then again non-blocking for the writes, for the reason
 * nonBlockingSwitch gives: a reader that stops reading must not hold a thread, nor the exit.
 */
function openAppending(file: string): number {
  const fd = fs.openSync(file, 'a');
  try {
    if (!fs.fstatSync(fd).isFIFO()) return fd;
    const { O_WRONLY, O_APPEND, O_NONBLOCK } = fs.constants;
    const nonBlocking = fs.openSync(file, O_WRONLY | O_APPEND | O_NONBLOCK);
    fs.closeSync(fd);
    return nonBlocking;
  } catch (err) {
    // Its reader left in between. Not the blocking descriptor: the writer writes a named pipe
    // synchronously, sure that it never blocks (line-writer.ts).
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * PIPE_BUF: a pipe keeps a write of up to this many bytes whole (POSIX: all of it or, non-blocking
 * and full, EAGAIN), but puts a larger one in as far as it has room, and another process's write
 * lands before the rest. The workers and the primary write into the same stdout: two lines cut
 * into each other, both lost to whatever parses them.
 */
const PIPE_WHOLE_BYTES = 4096;
/**
 * A Unix stream socket (journald's stdout) takes a write of up to 32 KiB as one buffer, whole or
 * not at all (Linux: UNIX_SKB_FRAGS_SZ); a larger one goes in several, which other processes'
 * writes can come between.
 */
const SOCKET_WHOLE_BYTES = 32 * 1024;

/**
 * The most one write to `fd` may carry for its lines to arrive whole beside other processes'
 * writes to the same pipe or socket; Infinity for a file (O_APPEND puts each write whole at the
 * end) or a device.
 */
export function wholeWriteBytes(fd: number): number {
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isFIFO()) return PIPE_WHOLE_BYTES;
    if (stat.isSocket()) return SOCKET_WHOLE_BYTES;
  } catch {
    // Not open: its writes will fail and be counted.
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Where the write of `bytes` from `offset` on ends for its lines to arrive whole: at the last
 * line that fits in `most` bytes; a line longer than that goes in a write of its own (whole
 * only if the pipe has room for it when it is written).
 */
export function wholeLinesEnd(bytes: Buffer, offset: number, most: number): number {
  if (bytes.length - offset <= most) return bytes.length;
  const lastNewline = bytes.lastIndexOf(NEWLINE, offset + most - 1);
  if (lastNewline >= offset) return lastNewline + 1;
  const newline = bytes.indexOf(NEWLINE, offset);
  return newline === -1 ? bytes.length : newline + 1;
}

export function isFifo(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}

export function isRegularFile(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile();
  } catch {
    return false;
  }
}
