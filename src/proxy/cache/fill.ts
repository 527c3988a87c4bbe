/**
 * One key's fetch in flight and how it ended, for the requests that wait on it (request
 * coalescing, nginx's proxy_cache_lock): what a request waits on, apart from the store
 * (answer-cache.ts), which only keeps each key's fill; the run (cache-run.ts) waits on it.
 */
import type { Failure } from '../../core/failure/failure.ts';
import type { FillStream } from './fill-stream.ts';
import type { CacheRequest } from './stored-answer.ts';

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
  /**
   * The request that fetches (undefined: a refresh's): a request that waited for another variant's
   * fetch waits for this one when it asks for the same variant (cache-run.ts).
   */
  readonly request: CacheRequest | undefined;
  readonly #waiters = new Set<(end: FillEnd) => void>();
  /** Those waiting for the answer's head as it streams (a Range's: fill-follow.ts). */
  readonly #heads = new Set<(stream: FillStream) => void>();
  /** A Range's fill whose answer will be kept, as it streams in (undefined: none, or not yet). */
  #stream: FillStream | undefined;

  constructor(request?: CacheRequest) {
    this.request = request;
  }

  get stream(): FillStream | undefined {
    return this.#stream;
  }

  /** Calls `headed` once the answer streams in to be kept (its head and length known), unless over first. `unwait` stops it. */
  waitHead(headed: (stream: FillStream) => void): void {
    this.#heads.add(headed);
  }

  /** The fill's answer will be kept and streams in: those waiting for its head hear it (each in a microtask of its own). */
  streams(stream: FillStream): void {
    this.#stream = stream;
    const heads = [...this.#heads];
    this.#heads.clear();
    for (const headed of heads) queueMicrotask(() => headed(stream));
  }

  /** Calls `wake` once the fetch is over; false when it cannot (too many wait). `unwait` stops it. */
  wait(wake: (end: FillEnd) => void): boolean {
    if (this.#waiters.size >= MAX_WAITERS) return false;
    this.#waiters.add(wake);
    return true;
  }

  /** `wake` stops waiting (the client left, the wait timed out); nothing when it is not waiting. */
  unwait(wake: (end: FillEnd) => void, headed?: (stream: FillStream) => void): void {
    this.#waiters.delete(wake);
    if (headed !== undefined) this.#heads.delete(headed);
  }

  /**
   * The fetch is over (stored or not): every waiter looks again, each in a microtask of its own
   * (not inside the fetching request's callbacks, which may be a connection's).
   */
  over(end: FillEnd): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    this.#heads.clear();
    for (const wake of waiters) queueMicrotask(() => wake(end));
  }
}
