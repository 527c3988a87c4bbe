import { Failure } from '../../core/failure/failure.ts';

/** The minimum rate a request body keeps (`limits.body_read_timeout`, `limits.body_min_rate`). */
export interface BodyRateLimits {
  /** Time the body may take before the minimum rate counts. */
  readonly readTimeout: number;
  /** Bytes per second the body must average past readTimeout; 0: none. */
  readonly minRate: number;
}

/**
 * A request body's minimum-rate deadline, Apache mod_reqtimeout's: `readTimeout`, plus one
 * second for every `minRate` bytes received. The one judge of `limits.body_min_rate`, for a body
 * read whole (request-buffering.ts) and one streamed to the upstream (exchange.ts) alike. One
 * timer, moved on only when it fires (bytes received meanwhile push the deadline on): nothing
 * per chunk but an addition. `slow` hears the client's 408, once.
 */
export class BodyRate {
  readonly #limits: BodyRateLimits;
  readonly #slow: (failure: Failure) => void;
  /** Asked when the deadline comes: the client is not the one holding the body back (it starts over then). */
  readonly #excused: () => boolean;
  #startedAt = performance.now();
  #received = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    limits: BodyRateLimits,
    slow: (failure: Failure) => void,
    excused: () => boolean = () => false,
  ) {
    this.#limits = limits;
    this.#slow = slow;
    this.#excused = excused;
    if (limits.minRate > 0) this.#timer = setTimeout(this.#check, limits.readTimeout);
  }

  /** Bytes came from the client. */
  received(bytes: number): void {
    this.#received += bytes;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #check = (): void => {
    const { readTimeout, minRate } = this.#limits;
    // Held back by the upstream's way in (the body pump paused it): a fresh window from now.
    if (this.#excused()) {
      this.#startedAt = performance.now();
      this.#received = 0;
      this.#timer = setTimeout(this.#check, readTimeout);
      return;
    }
    const now = performance.now();
    const left = this.#startedAt + readTimeout + (this.#received * 1000) / minRate - now;
    // Bytes came since the timer was set: the deadline moved on with them.
    if (left > 0) {
      this.#timer = setTimeout(this.#check, left);
      return;
    }
    this.#timer = undefined;
    this.#slow(
      new Failure(
        'http_request_error',
        `request body slower than ${minRate} bytes/s (${this.#received} bytes in ${Math.round(now - this.#startedAt)} ms)`,
        { status: 408 },
      ),
    );
  };
}
