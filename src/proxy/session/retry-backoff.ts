import { performance } from 'node:perf_hooks';
import type { Failure } from '../../core/failure/failure.ts';

/**
 * A retry waiting out its backoff, with the failure it is for: when the request's total
 * deadline comes first, that failure is what the client is told (TotalDeadline.leftNoTimeAfter),
 * since no other was seen. One per retry; each carries the request's earlier backoffs, so the
 * last one's `waitedMs` is the log line's `backoff_ms`: a wait of its own, which the attempts'
 * times do not hold and `ttfb_ms` does.
 */
export class RetryBackoff {
  #timer: NodeJS.Timeout | undefined;
  readonly #failure: Failure;
  readonly #startedAt = performance.now();
  #endedAt: number | undefined;
  /** The request's earlier backoffs, in ms. */
  readonly #before: number;

  /**
   * Waits `delay` ms, then tells `owner` with the failure the retry is for; `before`: the request's
   * earlier backoffs; `probe`: the retry is a half-open probe's going on (retry-policy.ts, probeGoesOn).
   */
  constructor(
    failure: Failure,
    delay: number,
    owner: { retryNow(last: Failure, probe: boolean): void },
    before = 0,
    probe = false,
  ) {
    this.#failure = failure;
    this.#before = before;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#endedAt = performance.now();
      owner.retryNow(failure, probe);
    }, delay);
  }

  /** Milliseconds the request's retries waited out their backoffs, this one's until now when it still waits. */
  get waitedMs(): number {
    return this.#before + ((this.#endedAt ?? performance.now()) - this.#startedAt);
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
    this.#endedAt = performance.now();
    return true;
  }
}
