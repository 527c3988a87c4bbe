import { Count, type Release } from '../../core/limits/count.ts';

export type { Release } from '../../core/limits/count.ts';

/**
 * Requests in flight on one listener or one route, against its `max_in_flight`. The count
 * only changes through `acquire` and the release it returns, so it goes down exactly once.
 */
export class InFlightLimit {
  /** undefined: no limit (the count is still kept). A reload may change it: the count stays. */
  max: number | undefined;
  /** What is counted, for the error's details, e.g. 'the route "api"'. */
  readonly name: string;
  readonly #count = new Count();

  constructor(max: number | undefined, name: string) {
    this.max = max;
    this.name = name;
  }

  get count(): number {
    return this.#count.count;
  }

  get full(): boolean {
    return this.max !== undefined && this.#count.count >= this.max;
  }

  acquire(): Release {
    return this.#count.acquire();
  }
}
