/**
 * A count over fixed windows: `hit()` is true once the count passes `limit` within one window.
 * The HTTP/2 guard (h2-guard.ts) keeps one per flood it counts (PING, SETTINGS, resets, requests).
 */
export class WindowCount {
  readonly #limit: number;
  readonly #windowMs: number;
  #start = 0;
  #count = 0;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  hit(now = Date.now()): boolean {
    if (now - this.#start >= this.#windowMs) {
      this.#start = now;
      this.#count = 0;
    }
    return ++this.#count > this.#limit;
  }
}
