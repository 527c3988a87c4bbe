// The module's binding, not the global `performance` (an accessor Node defines lazily: each read
// of it was a call into V8's global load IC, some 7 ns; issue 61).
import { performance } from 'node:perf_hooks';

/**
 * The first timers of many deadlines, all of one length (made once, a module's, and given to each
 * MovingDeadline of that kind): each deadline waits in it, oldest first, and one timer, set for
 * the oldest, fires them in turn. Of a length that most of them never reach (a client
 * connection's first timer, within LINGER_MS: a new connection per request closes before), each
 * one costs a place taken and given back (four links), not a node Timeout made, inserted in
 * node's timer lists and taken out (`setIn` 0.4 µs a connection under perf, wrk with
 * Connection: close, and 220 bytes). Its fields are MovingDeadline's to move.
 */
export class TimerLane {
  readonly ms: number;
  /** The deadlines waiting, oldest first (linked through their own fields). */
  first: MovingDeadline | undefined;
  last: MovingDeadline | undefined;
  /** Its one timer is set: a lane with deadlines in it always has it, but while it fires them. */
  timed = false;

  constructor(ms: number) {
    this.ms = ms;
  }
}

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
  /** Where its first timer goes (the constructor's firstTimers); undefined once it went. */
  #lane: TimerLane | undefined;
  /** The lane it waits in now (its timer), and its neighbours there. */
  #waitsIn: TimerLane | undefined;
  #before: MovingDeadline | undefined;
  #after: MovingDeadline | undefined;

  /**
   * `onDue` runs when a deadline set passes (unless it was set again later, or cleared).
   * `firstTimers`: its first timer is a place in that lane, firing within the lane's length at
   * the latest, whatever the deadline (when it fires before the deadline, a timer is set for
   * what is left, as always): a deadline moved sooner within that time then finds a timer
   * firing by its time and sets none. A deadline shorter than the lane's gets a timer of its own.
   */
  constructor(onDue: () => void, firstTimers?: TimerLane) {
    this.#onDue = onDue;
    this.#lane = firstTimers;
  }

  /** Due `ms` after `now` (performance.now(), when the caller has just read it), whatever was set before. */
  setIn(ms: number, now = performance.now()): void {
    const dueAt = now + ms;
    this.#dueAt = dueAt;
    // The timer set fires by then: it looks again when it does.
    if (this.#firesAt <= dueAt) return;
    this.#cancel();
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
    this.#cancel();
    this.#timer = undefined;
  }

  #set(now: number, ms: number): void {
    const lane = this.#lane;
    if (lane !== undefined) {
      this.#lane = undefined;
      if (lane.ms <= ms) return this.#wait(lane, now);
    }
    this.#firesAt = now + ms;
    // Unreferenced: an open socket already holds the process.
    this.#timer = setTimeout(this.#fire, ms).unref();
  }

  /** The timer set, a lane's place or node's Timeout, is let go. */
  #cancel(): void {
    if (this.#waitsIn !== undefined) this.#leave(this.#waitsIn);
    else clearTimeout(this.#timer);
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

  // ── a lane's places ─────────────────────────────────────────────────────────────────

  /** Its timer is a place at the end of `lane`: the lane's timer fires it `lane.ms` from `now`. */
  #wait(lane: TimerLane, now: number): void {
    this.#firesAt = now + lane.ms;
    this.#waitsIn = lane;
    const last = lane.last;
    this.#before = last;
    if (last === undefined) lane.first = this;
    else last.#after = this;
    lane.last = this;
    // Not while the lane fires (its timer is set for its oldest after).
    if (!lane.timed && lane.first === this) MovingDeadline.#time(lane, lane.ms);
  }

  #leave(lane: TimerLane): void {
    const before = this.#before;
    const after = this.#after;
    if (before === undefined) lane.first = after;
    else before.#after = after;
    if (after === undefined) lane.last = before;
    else after.#before = before;
    this.#waitsIn = undefined;
    this.#before = undefined;
    this.#after = undefined;
    // (The lane's timer stays: it fires, finds the oldest left not yet due, and is set for it.)
  }

  static #time(lane: TimerLane, ms: number): void {
    lane.timed = true;
    setTimeout(MovingDeadline.#fireLane, ms, lane).unref();
  }

  /** The lane's timer: each deadline whose place is due fires as its own timer would have, in turn. */
  static #fireLane(lane: TimerLane): void {
    lane.timed = false;
    const now = performance.now();
    try {
      // The oldest again after each: a deadline fired may have taken others' places back.
      let oldest = lane.first;
      while (oldest !== undefined && oldest.#firesAt <= now) {
        oldest.#leave(lane);
        oldest.#fire();
        oldest = lane.first;
      }
    } finally {
      const oldest = lane.first;
      if (oldest !== undefined && !lane.timed)
        MovingDeadline.#time(lane, Math.max(1, Math.ceil(oldest.#firesAt - now)));
    }
  }
}
