/**
 * One Retry-After pause, for the calls it holds (a whole origin's, or those that go through
 * one of a gateway's upstreams): nothing is sent before the announced time; then one request
 * goes first as a probe and the others wait for its answer. Another Retry-After pauses them
 * all again, anything else lets them go. So while the origin asks for time, the whole fleet
 * sends it one request per announced window, not one per caller.
 */
export class Pause {
  /** The upstream behind a gateway this pause is for; undefined for the whole origin. */
  readonly hop: string | undefined;
  /** performance.now() before which nothing is sent. */
  #until = 0;
  /** A pause ended and no request has gone since: the next one is the probe. */
  #needsProbe = false;
  #probing = false;
  readonly #waiting = new Set<() => void>();

  constructor(hop?: string) {
    this.hop = hop;
  }

  /** performance.now() before which nothing is sent. */
  get until(): number {
    return this.#until;
  }

  /** A probe is out: the others wait for its answer (`probeAnswered`). */
  get probing(): boolean {
    return this.#probing;
  }

  /** A request goes now (nothing awaited since it found the pause over): whether it is the probe. */
  claimProbe(): boolean {
    if (!this.#needsProbe) return false;
    this.#needsProbe = false;
    this.#probing = true;
    return true;
  }

  /** A Retry-After of `ms` milliseconds was announced. */
  extend(now: number, ms: number): void {
    this.#until = Math.max(this.#until, now + ms);
    this.#needsProbe = true;
  }

  /** The probe's answer came (or it was abandoned, and the next caller probes instead). */
  answered(abandoned: boolean): void {
    this.#probing = false;
    if (abandoned) this.#needsProbe = true;
    for (const wake of this.#waiting) wake();
    this.#waiting.clear();
  }

  /** Resolves when the probe out is answered; rejects when `signal` aborts. */
  probeAnswered(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiting.delete(wake);
        reject(signal.reason);
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiting.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
