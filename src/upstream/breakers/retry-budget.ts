import type { RetryConfig } from '../../core/config/types.ts';
import { Count, type Release } from '../../core/limits/count.ts';
import {
  type BucketShape,
  createFullBucket,
  refill,
  type TokenBucket,
  takeToken,
} from '../../core/limits/token-bucket.ts';

/**
 * An upstream's retry budget, two ways, with a floor. Concurrency (Envoy's): retries in
 * flight stay under `budgetRatio` of the upstream's requests in flight, `budgetMinConcurrent`
 * always allowed. Rate: failures that come back at once (refused, reset) never pile up in
 * flight, so each request also earns `budgetRatio` of a retry token and each retry spends
 * one; over any stretch, retries add at most that fraction of the requests (plus the small
 * reserve).
 *
 * The floor (Finagle's minimum retries per second): `budgetMinPerSecond` retries a second are
 * allowed whatever the ratio says. Without it a gateway that has seen few requests has earned
 * almost nothing, and the first refused connections of a fresh start, or of a quiet upstream,
 * would reach clients as errors although another target was there to take them. The floor
 * is spent only once the ratio's share is, and it bounds the extra load to a fixed rate.
 *
 * Its counts change only through its methods: a retry's slot is a release that goes down
 * exactly once, whichever way the retry ends.
 */
export class RetryBudget {
  #policy: RetryConfig;
  /** The upstream's requests in flight, first attempts and retries alike: the ratio's base. */
  readonly #requests: Count;
  readonly #retries = new Count();
  #tokens: number;
  #floor: TokenBucket;
  #floorShape: BucketShape;
  readonly #now: () => number;

  constructor(policy: RetryConfig, requests: Count, now: () => number = () => performance.now()) {
    this.#policy = policy;
    this.#requests = requests;
    this.#tokens = policy.budgetMinConcurrent;
    this.#now = now;
    this.#floorShape = floorShape(policy);
    this.#floor = createFullBucket(this.#floorShape, now());
  }

  /**
   * A reload kept the upstream: the new policy applies, the retries in flight and the tokens
   * earned stay (capped by the new reserve), so a reload neither grants nor forgets a budget.
   */
  reconfigure(policy: RetryConfig): void {
    this.#policy = policy;
    this.#tokens = Math.min(this.#tokens, this.reserve);
    const shape = floorShape(policy);
    if (shape.rate !== this.#floorShape.rate) {
      this.#floorShape = shape;
      this.#floor = createFullBucket(shape, this.#now());
    }
  }

  /** Retries in flight (in backoff or running). */
  get inFlight(): number {
    return this.#retries.count;
  }

  /** Retry tokens earned by requests and saved up. */
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
    return this.#ratioAllows() || this.#floorApplies();
  }

  /** Takes a retry charged to the budget: its slot until the release, and a token for good. */
  trySpend(): Release | undefined {
    if (this.#ratioAllows()) this.#tokens -= 1;
    else if (!this.#floorApplies() || takeToken(this.#floor, this.#floorShape, this.#now()) !== 0)
      return undefined;
    return this.#retries.acquire();
  }

  /**
   * A retry the budget does not charge (the keep-alive race, see whyNotRetry): it spends no
   * token, but while it runs it counts in flight like any other.
   */
  track(): Release {
    return this.#retries.acquire();
  }

  /** Retries charged to the budget that could start at once now: the ratio's share, then the floor's (for the metrics). */
  remaining(): number {
    const policy = this.#policy;
    const concurrent = Math.max(
      policy.budgetMinConcurrent,
      Math.floor(this.#requests.count * policy.budgetRatio),
    );
    const byRatio = Math.max(0, Math.min(concurrent - this.#retries.count, Math.floor(this.#tokens)));
    if (this.#floorShape.rate === 0) return byRatio;
    refill(this.#floor, this.#floorShape, this.#now());
    return byRatio + Math.floor(this.#floor.tokens);
  }

  #ratioAllows(): boolean {
    const policy = this.#policy;
    const concurrent = Math.max(
      policy.budgetMinConcurrent,
      Math.floor(this.#requests.count * policy.budgetRatio),
    );
    return this.#retries.count < concurrent && this.#tokens >= 1;
  }

  #floorApplies(): boolean {
    if (this.#floorShape.rate === 0) return false;
    refill(this.#floor, this.#floorShape, this.#now());
    return this.#floor.tokens >= 1;
  }
}

/** The floor's bucket: one second's worth at most (and at least one retry, for a rate below one a second). */
function floorShape(policy: RetryConfig): BucketShape {
  const rate = policy.budgetMinPerSecond;
  return { rate, burst: rate > 0 ? Math.max(1, rate) : 0 };
}
