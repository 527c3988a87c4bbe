/** A circuit's thresholds (the gateway's `circuit_breaker`, candor/client's `circuitBreaker`). */
export interface CircuitBreakerConfig {
  /** Failures in a row that open the circuit; 0: never. */
  readonly consecutiveFailures: number;
  /** How long it stays open before probes go through (ms). */
  readonly openTime: number;
  /** Probes let through at once while half-open. */
  readonly halfOpenRequests: number;
}

/**
 * A circuit breaker, the gateway's (one per upstream) and candor/client's (one per origin) alike. Closed: requests flow and failures in a row are
 * counted. Open: every request fails fast (503 destination_unavailable) until `openTime`
 * has passed, with Retry-After saying when. Half-open: a bounded number of probe requests
 * go through; a success closes the circuit, a failure opens it again.
 */
export interface Circuit {
  /** May a request go through now? `probe` is true when it goes as a half-open probe. */
  admit(now: number):
    | { readonly allowed: true; readonly probe: boolean }
    /** `probing`: half-open, its probes still out (not open). */
    | { readonly allowed: false; readonly retryAfterMs: number; readonly probing: boolean };
  /** Whether admit(now) would let a request through, taking nothing (a probe's slot stays free). */
  wouldAdmit(now: number): boolean;
  /** The outcome of a request the circuit admitted (a gateway failure, or not). */
  record(now: number, failed: boolean, probe: boolean): void;
  /**
   * A probe that ended without telling anything about the upstream (no target to send it
   * to, the queue full, the client gone): its slot is freed and the circuit stays half-open.
   */
  releaseProbe(): void;
  /**
   * The state as of `now`: an open circuit whose open time has passed is half-open from that
   * moment, whether or not a request has come since to find out. Whatever shows the state
   * (the admin API, the metrics, the status page) reads it here, so an idle upstream is never
   * shown open, and alerted on, for ever.
   */
  stateAt(now: number): CircuitState;
  /** When an open circuit lets probes through (monotonic ms); 0 unless it was opened and no probe has gone since. */
  readonly openUntil: number;
  /** A reload kept the upstream: the new thresholds apply from the next request, the state stays. */
  reconfigure(config: CircuitBreakerConfig): void;
  /**
   * Requests wait for the upstream to come back (the gateway's upstream `hold`): an open circuit
   * lets its probe through now, not at the end of its open time, so a restart shorter than the
   * open time is not waited out past it (a failed probe opens it again, as any).
   */
  probeNow(now: number): void;
  /**
   * Another worker of the gateway opened its circuit on this upstream: open here too, for
   * the time it has left (a circuit still in its open time stays as it is).
   */
  openedElsewhere(now: number, forMs: number): void;
  /**
   * Another worker's probe found the upstream answering and closed its circuit: close here too,
   * rather than keep failing fast until a probe of this worker's own says the same.
   */
  closedElsewhere(): void;
  /**
   * A half-open probe's request went on to another target after its failed attempt opened the
   * circuit again (the probe is the request, not its first try), and that target answered:
   * closed, as the probe's own success would have closed it. Probes still out keep their slots.
   */
  probeRetryAnswered(): void;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** The answer of a closed circuit, shared: admit() runs on every request. */
const PASS = { allowed: true, probe: false } as const;

export function createCircuit(initial: CircuitBreakerConfig): Circuit {
  return new BreakerCircuit(initial);
}

/** The three states and their moves; each method is one question or one outcome. */
class BreakerCircuit implements Circuit {
  #config: CircuitBreakerConfig;
  // Moves from open to half_open when the first request after the open time is admitted;
  // stateAt() reads the move that is due without making it.
  #state: CircuitState = 'closed';
  #failures = 0;
  #openUntil = 0;
  #probes = 0;

  constructor(config: CircuitBreakerConfig) {
    this.#config = config;
  }

  stateAt(now: number): CircuitState {
    // A reload that turned the breaker off lets every request through: that is closed.
    if (this.#config.consecutiveFailures === 0) return 'closed';
    return this.#state === 'open' && now >= this.#openUntil ? 'half_open' : this.#state;
  }

  get openUntil(): number {
    return this.#state === 'open' ? this.#openUntil : 0;
  }

  reconfigure(next: CircuitBreakerConfig): void {
    this.#config = next;
  }

  probeNow(now: number): void {
    if (this.#state === 'open' && this.#openUntil > now) this.#openUntil = now;
  }

  openedElsewhere(now: number, forMs: number): void {
    // Open and still in its open time: kept. One whose open time ran out with no request since
    // is half-open (stateAt): another worker's failed probe opens it again, or this worker's next
    // request went as a second probe to the dead upstream within the same open time.
    if (this.stateAt(now) === 'open' || this.#config.consecutiveFailures === 0) return;
    this.#open(now);
    this.#openUntil = now + forMs;
  }

  closedElsewhere(): void {
    this.probeRetryAnswered();
  }

  probeRetryAnswered(): void {
    if (this.#state === 'closed') return;
    // A probe of this worker still out keeps its slot: it comes back through record().
    this.#state = 'closed';
    this.#failures = 0;
  }

  admit(now: number): ReturnType<Circuit['admit']> {
    if (this.#state === 'closed' || this.#config.consecutiveFailures === 0) return PASS;
    if (this.#state === 'open') {
      if (now < this.#openUntil)
        return { allowed: false, retryAfterMs: this.#openUntil - now, probing: false };
      this.#state = 'half_open';
    }
    if (this.#probes >= this.#config.halfOpenRequests) {
      // The probes are still out: the next chance is when they come back, at the latest one open time on.
      return { allowed: false, retryAfterMs: this.#config.openTime, probing: true };
    }
    this.#probes++;
    return { allowed: true, probe: true };
  }

  wouldAdmit(now: number): boolean {
    if (this.#state === 'closed' || this.#config.consecutiveFailures === 0) return true;
    if (this.#state === 'open' && now < this.#openUntil) return false;
    return this.#probes < this.#config.halfOpenRequests;
  }

  releaseProbe(): void {
    this.#probes = Math.max(0, this.#probes - 1);
  }

  record(now: number, failed: boolean, probe: boolean): void {
    if (this.#config.consecutiveFailures === 0) return;
    if (probe) {
      this.#probes = Math.max(0, this.#probes - 1);
      if (failed) this.#open(now);
      else if (this.#state === 'half_open') {
        this.#state = 'closed';
        this.#failures = 0;
      }
      return;
    }
    if (this.#state !== 'closed') return;
    if (!failed) {
      this.#failures = 0;
      return;
    }
    this.#failures++;
    if (this.#failures >= this.#config.consecutiveFailures) this.#open(now);
  }

  #open(now: number): void {
    this.#state = 'open';
    this.#openUntil = now + this.#config.openTime;
    this.#failures = 0;
    // Probes still out (a slow one beside the quick failure that opened it again) keep their
    // slots: `halfOpenRequests` bounds the probes out at once, whichever turn sent them, and
    // each comes back through record() or releaseProbe(). Zeroed here, the next turn let the
    // whole bound through beside them.
  }
}
