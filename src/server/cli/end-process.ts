import { STALL_MS } from '../../observe/log/flush-waiters.ts';
import { logWriteInKernelFor } from '../../observe/log/log-writers.ts';

/** How often a finished process looks at what may keep it from ending. */
const LOOK_MS = 100;
/** Whatever still holds the event loop this long after the work is done (it should be nothing) does not keep the process. */
const EXIT_GRACE_MS = 2_000;

/** process.uptime(), not performance.now(): the primary does not load node:perf_hooks (line-writer.ts). */
const nowMs = (): number => process.uptime() * 1000;

/**
 * How a process of `candor serve` (the primary, a worker) ends once its work is done: it
 * returns `code`, and Node ends the process when its event loop is empty, with these two
 * exceptions (each looked at every LOOK_MS, on a timer that does not hold the process):
 *
 * - Something still holds the event loop EXIT_GRACE_MS later (it should be nothing): the
 *   process exits with the code anyway, unless a log write is in the kernel (the exit would wait
 *   for it: see below).
 * - A log write has been in the kernel for STALL_MS: blocked (stdout a socket shared with the
 *   other processes of the gateway, whose reader stopped reading, made blocking by another
 *   process between this one's switch and its write: LineWriter.inKernelFor). libuv joins its
 *   thread-pool threads when a process exits, naturally or by process.exit, and the thread in
 *   that write waits on a reader that does not read: the process would never end (a drained
 *   worker was kept until the primary's backstop killed it, and the stop was said unclean). It
 *   replaces itself by a shell that exits with the code: execve leaves no thread to join. What
 *   the writer still held was going nowhere.
 */
export function endOnceDone(code: number): number {
  const doneAt = nowMs();
  const look = (): void => {
    const inKernel = logWriteInKernelFor();
    // (Back from becomeExit only where it cannot: the process waits for the write, as before.)
    if (inKernel !== undefined && inKernel >= STALL_MS) return becomeExit(code);
    if (inKernel === undefined && nowMs() - doneAt >= EXIT_GRACE_MS) process.exit(code);
    setTimeout(look, LOOK_MS).unref();
  };
  setTimeout(look, LOOK_MS).unref();
  return code;
}

/** Replaces the process by a shell that exits with `code`; returns only where it cannot (no execve, no shell). */
function becomeExit(code: number): void {
  try {
    process.execve?.('/bin/sh', ['sh', '-c', `exit ${code}`], {});
  } catch {
    // A worker then waits for the primary's backstop, as before.
  }
}
