/** Gives back what a request holds; only the first call counts. */
export type Release = () => void;

/**
 * Requests in flight on one listener or one route, against its `max_in_flight`. The count
 * only changes through `acquire` and the release it returns, so it goes down exactly once.
 */
export class InFlightLimit {
  /** undefined: no limit (the count is still kept). */
  readonly max: number | undefined;
  /** What is counted, for the error's details, e.g. 'the route "api"'. */
  readonly name: string;
  #count = 0;

  constructor(max: number | undefined, name: string) {
    this.max = max;
    this.name = name;
  }

  get count(): number {
    return this.#count;
  }

  get full(): boolean {
    return this.max !== undefined && this.#count >= this.max;
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
