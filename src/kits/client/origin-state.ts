/**
 * What every call of one client shares about one origin: its circuit, its retry budget, and
 * the pause a Retry-After put on it.
 *
 * The pause: a 503 (or 429) with Retry-After stops every caller of this client from sending
 * to the origin until the time it announced. When it ends, one request goes first as a probe
 * and the others wait for its answer; another Retry-After pauses them all again, anything
 * else lets them go. So while the origin asks for time, the whole fleet sends it one request
 * per announced window, not one per caller.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Circuit, createCircuit } from '../../core/retry/circuit.ts';
import type { ClientConfig } from './options.ts';
import { WindowRetryBudget } from './window-retry-budget.ts';

export type Admission =
  | {
      readonly kind: 'go';
      /** This attempt is the circuit's half-open probe. */
      readonly circuitProbe: boolean;
      /** This attempt is the first after a pause, the others waiting on its answer. */
      readonly pauseProbe: boolean;
    }
  | { readonly kind: 'circuit_open'; readonly retryAfterMs: number }
  | { readonly kind: 'paused_past_deadline'; readonly until: number };

/** How an admitted attempt ended, for the circuit and the pause. */
interface Settlement {
  /** No outcome: the attempt was abandoned (the caller aborted): it says nothing about the origin. */
  readonly abandoned?: boolean;
  /** A connection failure, or a 502/503/504 without Retry-After. */
  readonly failed?: boolean;
  /** Milliseconds the origin asked for with a 503 or 429 Retry-After. */
  readonly pauseMs?: number;
}

export class OriginState {
  readonly budget: WindowRetryBudget | undefined;
  readonly #circuit: Circuit | undefined;
  /** performance.now() before which nothing is sent to the origin. */
  #pausedUntil = 0;
  /** A pause ended and no request has gone since: the next one is the probe. */
  #needsProbe = false;
  #probing = false;
  readonly #waiting = new Set<() => void>();

  constructor(config: ClientConfig) {
    this.budget = config.budget && new WindowRetryBudget(config.budget);
    const breaker = config.circuitBreaker;
    this.#circuit =
      breaker &&
      createCircuit({
        consecutiveFailures: breaker.failures,
        openTime: breaker.openTime,
        halfOpenRequests: 1,
      });
  }

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /**
   * Waits until an attempt may go to the origin: past any pause, behind the probe after one,
   * through the circuit. Rejects when `signal` aborts (the caller, or the call's deadline).
   */
  async admit(deadlineAt: number, signal: AbortSignal): Promise<Admission> {
    for (;;) {
      signal.throwIfAborted();
      const now = performance.now();
      if (this.#pausedUntil > now) {
        if (this.#pausedUntil > deadlineAt) return { kind: 'paused_past_deadline', until: this.#pausedUntil };
        await sleep(this.#pausedUntil - now, undefined, { signal });
        continue;
      }
      if (this.#probing) {
        await this.#probeAnswered(signal);
        continue;
      }
      const circuit = this.#circuit?.admit(now) ?? { allowed: true, probe: false };
      if (!circuit.allowed) return { kind: 'circuit_open', retryAfterMs: circuit.retryAfterMs };
      const pauseProbe = this.#needsProbe;
      if (pauseProbe) {
        this.#needsProbe = false;
        this.#probing = true;
      }
      return { kind: 'go', circuitProbe: circuit.probe, pauseProbe };
    }
  }

  /** The end of an attempt `admit` let go. */
  settle(admission: Admission & { kind: 'go' }, outcome: Settlement): void {
    const now = performance.now();
    if (outcome.abandoned) this.#circuit?.releaseProbe();
    // A Retry-After is the origin managing its load, not failing: the pause does what an open
    // circuit would, to the announced time instead of a guessed one.
    else this.#circuit?.record(now, outcome.failed === true, admission.circuitProbe);
    if (outcome.pauseMs !== undefined) {
      this.#pausedUntil = Math.max(this.#pausedUntil, now + outcome.pauseMs);
      this.#needsProbe = true;
    }
    if (admission.pauseProbe) {
      this.#probing = false;
      // An abandoned probe answered nothing: the next caller probes instead.
      if (outcome.abandoned) this.#needsProbe = true;
      for (const wake of this.#waiting) wake();
      this.#waiting.clear();
    }
  }

  #probeAnswered(signal: AbortSignal): Promise<void> {
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
