/** Gives back what a holder took; only the first call counts. */
export type Release = () => void;

/** A release for a slot that was never taken (or has nothing to give back). */
export const noRelease: Release = () => {};

/**
 * A count of things held (requests in flight, attempts waiting, probes), shared by the
 * modules that take them. It only changes through `acquire` and the release it returns,
 * which goes down exactly once however many paths end the holder: a count that drifts
 * would skew the balancer or the retry budget for the life of the process.
 */
export class Count {
  #count = 0;

  get count(): number {
    return this.#count;
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
