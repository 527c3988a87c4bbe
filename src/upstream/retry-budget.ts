import type { RetryConfig } from '../config/types.ts';
import { Count, type Release } from './count.ts';

/**
 * An upstream's retry budget, two ways. Concurrency (Envoy's): retries in flight stay under
 * `budgetRatio` of the upstream's requests in flight, `budgetMinConcurrent` always allowed.
 * Rate: failures that come back at once (refused, reset) never pile up in flight, so each
 * request also earns `budgetRatio` of a retry token and each retry spends one; over any
 * stretch, retries add at most that fraction of the requests (plus the small reserve).
 *
 * Its counts change only through its methods: a retry's slot is a release that goes down
 * exactly once, whichever way the retry ends.
 */
export class RetryBudget {
  readonly #policy: RetryConfig;
  /** The upstream's requests in flight, first attempts and retries alike: the ratio's base. */
  readonly #requests: Count;
  readonly #retries = new Count();
  #tokens: number;

  constructor(policy: RetryConfig, requests: Count) {
    this.#policy = policy;
    this.#requests = requests;
    this.#tokens = policy.budgetMinConcurrent;
  }

  /** Retries in flight (in backoff or running). */
  get inFlight(): number {
    return this.#retries.count;
  }

  /** Retry tokens saved up. */
  get tokens(): number {
    return this.#tokens;
  }

  /** The most tokens saved up: a quiet hour must not buy a storm of retries. */
  get reserve(): number {
    return this.#policy.budgetMinConcurrent + 10 * this.#policy.budgetRatio;
  }

  /** A request (not a retry) to the upstream earns its share of a retry. */
  earn(): void {
    this.#tokens = Math.min(this.reserve, this.#tokens + this.#policy.budgetRatio);
  }

  /** Whether a retry charged to the budget may go now. */
  allows(): boolean {
    const policy = this.#policy;
    const concurrent = Math.max(
      policy.budgetMinConcurrent,
      Math.floor(this.#requests.count * policy.budgetRatio),
    );
    return this.#retries.count < concurrent && this.#tokens >= 1;
  }

  /** Takes a retry charged to the budget: its slot until the release, and a token for good. */
  trySpend(): Release | undefined {
    if (!this.allows()) return undefined;
    this.#tokens -= 1;
    return this.#retries.acquire();
  }

  /**
   * A retry the budget does not charge (the keep-alive race, see whyNotRetry): it spends no
   * token, but while it runs it counts in flight like any other.
   */
  track(): Release {
    return this.#retries.acquire();
  }
}
