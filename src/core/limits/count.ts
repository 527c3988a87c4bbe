/** Gives back what a holder took; only the first call counts. */
export type Release = () => void;

declare const PLACE: unique symbol;
/** A place taken in a Count (only Count.take() makes one), given back once by `place = Count.giveBack(place)`. */
export interface Taken {
  readonly [PLACE]: true;
}

/** A release for a slot that was never taken (or has nothing to give back). */
export const noRelease: Release = () => {};

/**
 * A count of things held (requests in flight, attempts waiting, probes), shared by the
 * modules that take them. It only changes through `acquire` and the release it returns,
 * which goes down exactly once however many paths end the holder: a count that drifts
 * would skew the balancer or the retry budget for the life of the process. A holder on every
 * request's path takes its place by `take` instead (no function made per request): the Taken
 * it gets back, kept until it is given back, is its once.
 */
export class Count {
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** One more held, by a holder that gives it back with `Count.giveBack(place)`, once. */
  take(): Taken {
    this.#count++;
    return this as unknown as Taken;
  }

  /** Gives back a place take() made (none: nothing): the holder keeps what it returns, undefined, from then. */
  static giveBack(place: Taken | undefined): undefined {
    if (place !== undefined) (place as unknown as Count).#count--;
    return undefined;
  }

  acquire(): Release {
    this.#count++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#count--;
    };
  }
}
