/**
 * A write in flight this long without finishing (a pipe whose reader is alive but stopped
 * reading: the write blocks in the thread pool for as long as it does) makes the destination
 * stalled: flush() stops waiting for it and the exit's synchronous flush skips it, either of
 * which would otherwise wait for ever and keep a drained process from exiting.
 */
export const STALL_MS = 2_000;

/**
 * The callers of LineWriter.flush() (pino's logger.flush, the drain, the exit) waiting for the
 * lines queued before they asked. Waiters are not kept past a stall: a drain must not wait on
 * a reader that stopped reading. Touched by a flush and at the end of a batch, never per line.
 */
export class FlushWaiters {
  private waiters: ((err?: Error) => void)[] = [];
  /**
   * Calls the waiters back with an error once the write in flight has stalled. It holds the
   * event loop (for STALL_MS at most, while someone waits): a pipe's EAGAIN retries do not,
   * and a process whose last step awaits a flush (the cluster primary's exit) would otherwise
   * end with its await unsettled (Node's exit code 13) instead of hearing of the stall.
   */
  private stallTimer: NodeJS.Timeout | undefined;
  /** How long the write in flight has not moved (ms); undefined while none is in flight. */
  private readonly quietFor: () => number | undefined;

  constructor(quietFor: () => number | undefined) {
    this.quietFor = quietFor;
  }

  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  add(waiter: (err?: Error) => void): void {
    this.waiters.push(waiter);
    if (this.stallTimer === undefined) this.stallTimer = setTimeout(this.checkStall, STALL_MS);
  }

  /** Everything queued before they asked is written. */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    for (const waiter of waiters) waiter();
  }

  private readonly checkStall = (): void => {
    this.stallTimer = undefined;
    if (this.waiters.length === 0) return;
    const quiet = this.quietFor();
    if (quiet === undefined || quiet < STALL_MS) {
      this.stallTimer = setTimeout(this.checkStall, STALL_MS - (quiet ?? 0));
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    const err = new Error(`the log destination took no lines for ${STALL_MS} ms`);
    for (const waiter of waiters) waiter(err);
  };
}
