/**
 * Deadlines of one length, started one after another, pass in the order they were started: a
 * line of them needs one timer, set for the first to pass. Starting one links it at the end of
 * the line, stopping one unlinks it: no timer made and cleared per deadline (a request's total
 * deadline is started and stopped by every request, and passes for almost none).
 *
 * The timer, once set, is left alone when the deadline it was set for stops: when it fires it
 * ends those that are due and is set again for the next one (once per length of time at most
 * while none passes). A deadline passes at its time by performance.now(), never before (a timer
 * of its own, counted from the loop's cached clock, could fire a little early: this one is then
 * set again for what is left).
 */

/** A deadline in a line: its links live on it, so that joining the line makes nothing. */
export interface LinedDeadline {
  /** performance.now() at which it passes. */
  dueAt: number;
  prevInLine: LinedDeadline | undefined;
  nextInLine: LinedDeadline | undefined;
  /** In a line (started, not stopped, not passed). */
  inLine: boolean;
  /** Its time came: it has left the line. */
  passed(): void;
}

export class DeadlineLine {
  readonly #ms: number;
  #first: LinedDeadline | undefined;
  #last: LinedDeadline | undefined;
  /** The timer is set (for the first deadline, or one that stopped since, which passes sooner). */
  #set = false;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Links `deadline` at the end of the line, due `ms` from `now` (performance.now(), when the caller has just read it). */
  start(deadline: LinedDeadline, now = performance.now()): void {
    deadline.dueAt = now + this.#ms;
    deadline.nextInLine = undefined;
    deadline.prevInLine = this.#last;
    deadline.inLine = true;
    if (this.#last === undefined) this.#first = deadline;
    else this.#last.nextInLine = deadline;
    this.#last = deadline;
    if (!this.#set) this.#arm(this.#ms);
  }

  /** Unlinks `deadline` (stopped: it will not pass); one not in the line, nothing. */
  stop(deadline: LinedDeadline): void {
    if (!deadline.inLine) return;
    deadline.inLine = false;
    const { prevInLine: prev, nextInLine: next } = deadline;
    if (prev === undefined) this.#first = next;
    else prev.nextInLine = next;
    if (next === undefined) this.#last = prev;
    else next.prevInLine = prev;
    deadline.prevInLine = undefined;
    deadline.nextInLine = undefined;
  }

  #arm(ms: number): void {
    this.#set = true;
    // Unreferenced: a request whose deadline runs holds the process by its sockets.
    setTimeout(this.#fire, ms).unref();
  }

  readonly #fire = (): void => {
    // Still counted as set while the passed run: one that starts a deadline of this line arms
    // nothing (the line is set again below, for its first, however it ends).
    const now = performance.now();
    try {
      for (let first = this.#first; first !== undefined && first.dueAt <= now; first = this.#first) {
        this.stop(first);
        first.passed();
      }
    } finally {
      this.#set = false;
      const next = this.#first;
      if (next !== undefined) this.#arm(Math.max(1, Math.ceil(next.dueAt - performance.now())));
    }
  };
}

/** The lines by length: one per total deadline a config sets (client-chosen lengths keep timers of their own). */
const LINES = new Map<number, DeadlineLine>();

/** The line of deadlines of `ms`. */
export function deadlineLine(ms: number): DeadlineLine {
  let line = LINES.get(ms);
  if (line === undefined) {
    line = new DeadlineLine(ms);
    LINES.set(ms, line);
  }
  return line;
}
