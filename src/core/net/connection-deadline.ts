import { MovingDeadline, type TimerLane } from './moving-deadline.ts';

/**
 * A connection's one deadline at a time (waiting for a head, a body, the next request, a
 * lingering close), without a timer made and cleared per request: arming one moves the
 * connection's one deadline (moving-deadline.ts), so a keep-alive connection that alternates
 * between waiting for a request and serving it makes a timer about once per keep-alive timeout,
 * not one per request. Only the deadline armed last runs when its time comes.
 */
export class ConnectionDeadline {
  /** The callback of the deadline in force, undefined when none is; its length. */
  #armed: (() => void) | undefined;
  #ms = 0;
  readonly #clock: MovingDeadline;

  /** `firstTimers`: the lane its first timer waits in (moving-deadline.ts). */
  constructor(firstTimers?: TimerLane) {
    this.#clock = new MovingDeadline(() => this.#armed?.(), firstTimers);
  }

  /** `onTimeout` runs after `ms` (unless another deadline is armed or this one disarmed first); 0 or less: none. */
  arm(ms: number, onTimeout: () => void): void {
    if (ms <= 0) return this.disarm();
    this.#armed = onTimeout;
    this.#ms = ms;
    this.#clock.setIn(ms);
  }

  /** Restarts the deadline in force from now (after it fired too: it runs again); none, nothing. */
  refresh(): void {
    if (this.#armed !== undefined) this.#clock.setIn(this.#ms);
  }

  /** No deadline in force (the timer stays, for the next arm). */
  disarm(): void {
    this.#armed = undefined;
    this.#clock.clear();
  }

  /** The connection is gone: the timer is cleared. */
  release(): void {
    this.#armed = undefined;
    this.#clock.stop();
  }
}
