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
  /**
   * In a cluster worker, the configured max_in_flight that `max` is this worker's share of
   * (the count is this worker's too); undefined when `max` is the whole of it.
   */
  of: number | undefined;
  readonly #count = new Count();

  constructor(max: number | undefined, name: string, of?: number) {
    this.max = max;
    this.name = name;
    this.of = of;
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
