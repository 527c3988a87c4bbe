// The module's binding, not the global `performance` (an accessor Node defines lazily: each read
// of it was a call into V8's global load IC, some 7 ns; issue 61).
import { performance } from 'node:perf_hooks';

/**
 * A deadline that moves far more often than it passes: a connection's wait for a response head,
 * for the next request, for the next body bytes, pushed back by every request. Moving it writes
 * down when it is due, nothing more; the one timer set fires by then, and if the deadline has
 * moved on meanwhile, it is set again for what is left. So a keep-alive connection makes a timer
 * about once per length of its deadline instead of re-inserting one into Node's timer lists per
 * request, and the deadline still passes at its time by performance.now(), never before (a
 * timer counted from the loop's cached clock may fire a little early: then it is set again).
 */
export class MovingDeadline {
  readonly #onDue: () => void;
  /** performance.now() at which it passes; Infinity: none set. */
  #dueAt = Number.POSITIVE_INFINITY;
  /** When the timer set fires, at the latest (performance.now()); Infinity: none set. */
  #firesAt = Number.POSITIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  /** How far ahead the first timer set may fire at most (the constructor's firstTimerWithin); Infinity after it. */
  #firstWithin: number;

  /**
   * `onDue` runs when a deadline set passes (unless it was set again later, or cleared).
   * `firstTimerWithin` (ms): the first timer set fires that soon at the latest, whatever the
   * deadline (when it fires before the deadline, it is set again for what is left, as always):
   * a deadline moved sooner within that time then finds a timer firing by its time and sets none.
   */
  constructor(onDue: () => void, firstTimerWithin = Number.POSITIVE_INFINITY) {
    this.#onDue = onDue;
    this.#firstWithin = firstTimerWithin;
  }

  /** Due `ms` after `now` (performance.now(), when the caller has just read it), whatever was set before. */
  setIn(ms: number, now = performance.now()): void {
    const dueAt = now + ms;
    this.#dueAt = dueAt;
    // The timer set fires by then: it looks again when it does.
    if (this.#firesAt <= dueAt) return;
    clearTimeout(this.#timer);
    this.#set(now, ms);
  }

  /** Whether the deadline set has passed at `now`, fired or not (a timer fires late on a busy loop). */
  passed(now: number): boolean {
    return this.#dueAt <= now;
  }

  /** None due (the timer set, if any, stays: it does nothing when it fires). */
  clear(): void {
    this.#dueAt = Number.POSITIVE_INFINITY;
  }

  /** None due, and no timer left: the connection is gone. */
  stop(): void {
    this.#dueAt = Number.POSITIVE_INFINITY;
    this.#firesAt = Number.POSITIVE_INFINITY;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(now: number, deadlineMs: number): void {
    const ms = Math.min(deadlineMs, this.#firstWithin);
    this.#firstWithin = Number.POSITIVE_INFINITY;
    this.#firesAt = now + ms;
    // Unreferenced: an open socket already holds the process.
    this.#timer = setTimeout(this.#fire, ms).unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#firesAt = Number.POSITIVE_INFINITY;
    const dueAt = this.#dueAt;
    if (dueAt === Number.POSITIVE_INFINITY) return;
    const now = performance.now();
    if (dueAt > now) return this.#set(now, Math.ceil(dueAt - now));
    this.#dueAt = Number.POSITIVE_INFINITY;
    this.#onDue();
  };
}
