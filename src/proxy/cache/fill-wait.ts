import type { BeforeAttemptsVerdict, StageAnswer } from '../stages/stage.ts';
import type { Fill, FillEnd } from './fill.ts';
import type { FillStream } from './fill-stream.ts';

type Verdict = BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict>;

/** What a request waiting on its key's fetch is told (cache-run.ts), unless its client left meanwhile. */
export interface Waiter {
  /** Its client left: nothing it is told goes on. */
  closed(): boolean;
  /** The fetch is over, as it ended: it looks again, or shares its failure. */
  woken(end: FillEnd): Verdict;
  /** lock_timeout passed first: it looks again, waiting no more. */
  timedOut(): Verdict;
  /** A Range's fill streams in: its answer from it (fill-follow.ts), or undefined: it waits for the end. */
  followed(stream: FillStream): StageAnswer | undefined;
}

/**
 * A request's wait for another's fetch of its key (request coalescing), one at a time, bounded
 * by its lock_timeout and its client's patience: its wake, its timer and how it is decided, made
 * once a request (a second wait follows a lead that left); a wait makes only its promise. A Range
 * is answered from the fill as it streams in, once its head is there (now, or when it comes).
 */
export class FillWait {
  readonly #waiter: Waiter;
  #waiting: Fill | undefined;
  #lockTimer: NodeJS.Timeout | undefined;
  #decide: ((verdict: Verdict) => void) | undefined;

  constructor(waiter: Waiter) {
    this.#waiter = waiter;
  }

  readonly #wake = (end: FillEnd): void => {
    clearTimeout(this.#lockTimer);
    this.#waiting = undefined;
    // This wait's own decide: looking again may begin another wait, whose promise this one's settles to.
    const decide = this.#decide;
    if (!this.#waiter.closed()) decide?.(this.#waiter.woken(end));
  };

  readonly #headed = (stream: FillStream): void => {
    const answer = this.#waiter.followed(stream);
    if (answer === undefined || this.#waiter.closed()) return;
    this.stop();
    this.#decide?.(answer);
  };

  /** Waits for `fill` until `until` (Date.now()'s); `ranged`: a Range, which may follow it as it streams. Undefined: it cannot wait. */
  wait(fill: Fill, until: number, ranged: boolean): Promise<BeforeAttemptsVerdict> | undefined {
    const now = ranged && fill.stream !== undefined ? this.#waiter.followed(fill.stream) : undefined;
    if (now !== undefined) return Promise.resolve(now);
    if (!fill.wait(this.#wake)) return undefined;
    if (ranged) fill.waitHead(this.#headed);
    this.#waiting = fill;
    // The wait is the timer's argument: no closure a wait.
    this.#lockTimer = setTimeout(FillWait.#timedOut, until - Date.now(), this);
    return new Promise<BeforeAttemptsVerdict>((resolve) => {
      this.#decide = resolve;
    });
  }

  /** The wait under way (if any) ends here: off its fetch's waiters, its timer cleared. */
  stop(): void {
    clearTimeout(this.#lockTimer);
    this.#waiting?.unwait(this.#wake, this.#headed);
    this.#waiting = undefined;
  }

  static #timedOut(wait: FillWait): void {
    wait.stop();
    const decide = wait.#decide;
    if (!wait.#waiter.closed()) decide?.(wait.#waiter.timedOut());
  }
}
