/**
 * A connection's one deadline at a time (waiting for a head, a body, the next request, a
 * lingering close), without a timer made and cleared per request. Each deadline's timer is
 * made the first time it is armed and refreshed after that (Node reschedules a refreshed
 * timer, even one that fired); arming another only changes which one counts, so a keep-alive
 * connection that alternates between waiting for a request and serving it makes no timer per
 * request. A timer that is not the armed one does nothing when it fires.
 */
export class ConnectionDeadline {
  /** The callback of the deadline in force, undefined when none is. */
  #armed: (() => void) | undefined;
  /**
   * The timers made so far, by callback, with the duration each was made for: a few per
   * connection, linked (no array: a connection that serves one request makes one slot).
   */
  #slots: Slot | undefined;

  /** `onTimeout` runs after `ms` (unless another deadline is armed or this one disarmed first); 0 or less: none. */
  arm(ms: number, onTimeout: () => void): void {
    if (ms <= 0) {
      this.#armed = undefined;
      return;
    }
    this.#armed = onTimeout;
    for (let slot = this.#slots; slot !== undefined; slot = slot.next) {
      if (slot.callback !== onTimeout) continue;
      if (slot.ms === ms) {
        slot.timer.refresh();
        return;
      }
      clearTimeout(slot.timer);
      slot.ms = ms;
      slot.timer = this.#start(ms, onTimeout);
      return;
    }
    this.#slots = { callback: onTimeout, ms, timer: this.#start(ms, onTimeout), next: this.#slots };
  }

  /** Restarts the deadline in force from now (after it fired too: it runs again); none, nothing. */
  refresh(): void {
    if (this.#armed === undefined) return;
    for (let slot = this.#slots; slot !== undefined; slot = slot.next)
      if (slot.callback === this.#armed) slot.timer.refresh();
  }

  /** No deadline in force (the timers stay, for the next arm). */
  disarm(): void {
    this.#armed = undefined;
  }

  /** The connection is gone: every timer is cleared. */
  release(): void {
    this.#armed = undefined;
    for (let slot = this.#slots; slot !== undefined; slot = slot.next) clearTimeout(slot.timer);
    this.#slots = undefined;
  }

  #start(ms: number, onTimeout: () => void): NodeJS.Timeout {
    // Unreferenced: an open socket already holds the process.
    return setTimeout(() => {
      // Still the deadline in force after it fired: refresh() runs it again, as a timer's own would.
      if (this.#armed === onTimeout) onTimeout();
    }, ms).unref();
  }
}

interface Slot {
  readonly callback: () => void;
  ms: number;
  timer: NodeJS.Timeout;
  readonly next: Slot | undefined;
}
