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

/** Releases when `stream` closes, or at once if it already has: whatever ended it, the slot comes back. */
export function releaseOnClose(
  stream: { readonly closed: boolean; once(event: 'close', listener: () => void): unknown },
  release: Release,
): void {
  if (stream.closed) release();
  else stream.once('close', release);
}
