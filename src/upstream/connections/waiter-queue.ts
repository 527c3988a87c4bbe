import { Failure } from '../../core/failure/failure.ts';
import type { Dispatcher } from './exchange-contract.ts';
import type { PoolWaiter } from './target-pool.ts';

/**
 * The requests waiting for a connection to one target, first come first served, whichever
 * protocol the pool speaks: how a waiter joins, leaves, is served and hears that the pool is
 * closing is the same for an HTTP/1.1 pool (a connection each) and an HTTP/2 one (a stream
 * each). The queue's time limit is the exchange's (queue_timeout), its length is bounded by
 * max_pending before anyone joins it.
 */
export class WaiterQueue {
  readonly #waiting: PoolWaiter[] = [];
  #closing = false;

  /** The pool is closing: no one joins, no connection opens. */
  get closing(): boolean {
    return this.#closing;
  }

  get length(): number {
    return this.#waiting.length;
  }

  /**
   * A waiter asks for a connection: refused while the pool closes, served at once when `take`
   * finds one ready (`now`, when the waiter has just read the clock, is handed to it), queued
   * otherwise. True when it was queued (the pool may open more).
   */
  join(waiter: PoolWaiter, take: (now?: number) => Dispatcher | undefined, now?: number): boolean {
    if (this.#closing) {
      waiter.onConnectFailure(shuttingDown());
      return false;
    }
    const ready = take(now);
    if (ready !== undefined) {
      waiter.onConnection(ready);
      return false;
    }
    this.#waiting.push(waiter);
    return true;
  }

  /** The waiter gave up (client gone, queue timeout): a connection opened for it serves the next one. */
  cancel(waiter: PoolWaiter): void {
    const at = this.#waiting.indexOf(waiter);
    if (at !== -1) this.#waiting.splice(at, 1);
  }

  /** Every waiter now waits behind a full pool (PoolWaiter.queued): once each time the pool fills. */
  full(): void {
    for (const waiter of this.#waiting) waiter.queued?.();
  }

  /** The waiter `index` places from the front (the first a connection being opened now would serve), left in the queue. */
  at(index: number): PoolWaiter | undefined {
    return this.#waiting[index];
  }

  /** The waiter served next, out of the queue. */
  next(): PoolWaiter | undefined {
    return this.#waiting.shift();
  }

  /**
   * Opening a connection failed: the first `count` waiters (those it was to carry) hear why,
   * the others keep waiting for a connection of their own.
   */
  connectFailed(err: Failure | null, count: number): void {
    const failure = err ?? new Failure('connection_terminated', 'connection failed while opening');
    for (const waiter of this.#waiting.splice(0, count)) waiter.onConnectFailure(failure);
  }

  /** The pool closes: every waiter hears it, and no one joins from now on. */
  close(): void {
    this.#closing = true;
    const failure = shuttingDown();
    for (const waiter of this.#waiting.splice(0)) waiter.onConnectFailure(failure);
  }
}

/** The gateway's own decision (it is stopping), not a bug of its: a 503 to retry elsewhere. */
function shuttingDown(): Failure {
  return new Failure('proxy_internal_response', 'the gateway is shutting down', { retryAfter: 1 });
}
