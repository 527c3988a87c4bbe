/**
 * The client's retry budget for one origin (not the gateway's `RetryBudget` of
 * src/upstream/breakers/, which bounds retries in flight per upstream): over a sliding window, retries stay under
 * `ratio` of the calls sent, plus a floor of `minPerSecond` retries a second so that a
 * client that has made few calls can still retry a refused connection. Over any window the
 * origin sees at most (1 + ratio) × calls + minPerSecond × window requests from this client,
 * however hard it fails. The window slides in tenths: a count ages out a tenth at a time.
 */
export interface RetryBudgetConfig {
  /** Retries allowed per call sent, over the window. */
  readonly ratio: number;
  /** The window, in milliseconds. */
  readonly window: number;
  /** Retries a second allowed whatever the ratio says. */
  readonly minPerSecond: number;
}

const SLOTS = 10;

interface Slot {
  epoch: number;
  calls: number;
  retries: number;
}

export class WindowRetryBudget {
  readonly #config: RetryBudgetConfig;
  readonly #slots: Slot[] = Array.from({ length: SLOTS }, () => ({ epoch: -1, calls: 0, retries: 0 }));

  constructor(config: RetryBudgetConfig) {
    this.#config = config;
  }

  /** A call's first attempt went out: it earns its share of a retry. */
  called(now: number): void {
    this.#slot(now).calls++;
  }

  /** Takes one retry if the window allows it. */
  trySpend(now: number): boolean {
    let calls = 0;
    let retries = 0;
    const current = this.#epoch(now);
    for (const slot of this.#slots) {
      if (slot.epoch > current - SLOTS) {
        calls += slot.calls;
        retries += slot.retries;
      }
    }
    const allowed = this.#config.ratio * calls + (this.#config.minPerSecond * this.#config.window) / 1000;
    if (retries + 1 > allowed) return false;
    this.#slot(now).retries++;
    return true;
  }

  #epoch(now: number): number {
    return Math.floor(now / (this.#config.window / SLOTS));
  }

  #slot(now: number): Slot {
    const epoch = this.#epoch(now);
    const slot = this.#slots[epoch % SLOTS];
    if (slot.epoch !== epoch) {
      slot.epoch = epoch;
      slot.calls = 0;
      slot.retries = 0;
    }
    return slot;
  }
}
