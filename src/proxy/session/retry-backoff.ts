import type { Failure } from '../../core/failure/failure.ts';

/**
 * A retry waiting out its backoff, with the failure it is for: when the request's total
 * deadline comes first, that failure is what the client is told (TotalDeadline.leftNoTimeAfter),
 * since no other was seen. One per retry.
 */
export class RetryBackoff {
  #timer: NodeJS.Timeout | undefined;
  readonly #failure: Failure;

  /** Waits `delay` ms, then tells `owner` with the failure the retry is for. */
  constructor(failure: Failure, delay: number, owner: { retryNow(last: Failure): void }) {
    this.#failure = failure;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      owner.retryNow(failure);
    }, delay);
  }

  /** The request's total deadline passed after `tries` attempts: the answer, when the retry was still waiting (undefined: it was not). */
  deadlinePassed(
    deadline: { leftNoTimeAfter(last: Failure, tries: number): Failure },
    tries: number,
  ): Failure | undefined {
    return this.#timer === undefined ? undefined : deadline.leftNoTimeAfter(this.#failure, tries);
  }

  /** Calls the retry off; true when one was waiting. */
  cancel(): boolean {
    if (this.#timer === undefined) return false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return true;
  }
}
