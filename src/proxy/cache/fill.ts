/**
 * One key's fetch in flight and how it ended, for the requests that wait on it (request
 * coalescing, nginx's proxy_cache_lock): what a request waits on, apart from the store
 * (answer-cache.ts), which only keeps each key's fill; the run (cache-run.ts) waits on it.
 */
import type { Failure } from '../../core/failure/failure.ts';

/** Requests waiting at once for one key's first fetch, at most: beyond, a request goes upstream itself. */
export const MAX_WAITERS = 10_000;

/**
 * How a key's fetch ended, for the requests waiting on it: undefined, look again (it stored an
 * answer, or one that cannot be stored: each goes upstream itself); the failure it was answered
 * with (the gateway's, or the upstream's own 5xx status a stored answer stood in for), which is
 * theirs too rather than a herd of tries at a failing upstream; `lead`, its client left before
 * it was over: one of them fetches, the others wait for that one.
 */
export type FillEnd = Failure | number | 'lead' | undefined;

/**
 * One fetch of a key in flight: the requests that missed while it runs wait for it (request
 * coalescing, nginx's proxy_cache_lock) and look again when it is over.
 */
export class Fill {
  readonly #waiters = new Set<(end: FillEnd) => void>();

  /** Calls `wake` once the fetch is over; false when it cannot (too many wait). `unwait` stops it. */
  wait(wake: (end: FillEnd) => void): boolean {
    if (this.#waiters.size >= MAX_WAITERS) return false;
    this.#waiters.add(wake);
    return true;
  }

  /** `wake` stops waiting (the client left, the wait timed out); nothing when it is not waiting. */
  unwait(wake: (end: FillEnd) => void): void {
    this.#waiters.delete(wake);
  }

  /**
   * The fetch is over (stored or not): every waiter looks again, each in a microtask of its own
   * (not inside the fetching request's callbacks, which may be a connection's).
   */
  over(end: FillEnd): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) queueMicrotask(() => wake(end));
  }
}
