/**
 * What every call of one client shares about one origin: its circuit, its retry budget, and
 * the pauses Retry-After put on it (see pause.ts).
 *
 * A pause has a scope. A 503 (or 429) with Retry-After whose Proxy-Status member (the gateway
 * the client talks to) names a `next-hop` is that gateway speaking for one of its upstreams:
 * it holds the calls to the paths that answered through that upstream, and the gateway's
 * other routes go on. Without a next-hop (no Proxy-Status: the origin itself; or a gateway
 * speaking for itself, as when it sheds load) the pause holds every call to the origin.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Circuit, createCircuit } from '../../upstream/breakers/circuit.ts';
import type { ClientConfig } from './options.ts';
import { Pause } from './pause.ts';
import { RetryBudget } from './retry-budget.ts';

export type Admission =
  | {
      readonly kind: 'go';
      /** This attempt is the circuit's half-open probe. */
      readonly circuitProbe: boolean;
      /** The pauses this attempt is the first after, the others waiting on its answer. */
      readonly pauseProbes: readonly Pause[];
    }
  | { readonly kind: 'circuit_open'; readonly retryAfterMs: number }
  | {
      readonly kind: 'paused_past_deadline';
      readonly until: number;
      /** The upstream paused (a gateway's next-hop), or undefined: the whole origin. */
      readonly hop: string | undefined;
    };

/** How an admitted attempt ended, for the circuit and the pause. */
export interface Settlement {
  /** No outcome: the attempt was abandoned (the caller aborted): it says nothing about the origin. */
  readonly abandoned?: boolean;
  /** A connection failure, or a 502/503/504 without Retry-After. */
  readonly failed?: boolean;
  /** Milliseconds the origin asked for with a 503 or 429 Retry-After. */
  readonly pauseMs?: number;
  /** The upstream the pause is for (the gateway's `next-hop`); without one, the whole origin. */
  readonly pauseHop?: string;
}

/** Upstreams behind one gateway, and paths of one origin, whose pause scope is remembered. */
const MAX_HOPS = 100;
const MAX_PATHS = 1_000;

export class OriginState {
  readonly budget: RetryBudget | undefined;
  readonly #circuit: Circuit | undefined;
  readonly #pause = new Pause();
  /** Pauses a gateway announced for one of its upstreams, by `next-hop`. */
  readonly #hopPauses = new Map<string, Pause>();
  /** The upstream each path last answered through (least recently seen first). */
  readonly #hopOfPath = new Map<string, string>();

  constructor(config: ClientConfig) {
    this.budget = config.budget && new RetryBudget(config.budget);
    const breaker = config.circuitBreaker;
    this.#circuit =
      breaker &&
      createCircuit({
        consecutiveFailures: breaker.failures,
        openTime: breaker.openTime,
        halfOpenRequests: 1,
      });
  }

  /** The gateway answered `path` through the upstream it names `hop` (its Proxy-Status next-hop). */
  learnHop(path: string, hop: string): void {
    this.#hopOfPath.delete(path);
    if (this.#hopOfPath.size >= MAX_PATHS)
      this.#hopOfPath.delete(this.#hopOfPath.keys().next().value as string);
    this.#hopOfPath.set(path, hop);
  }

  /**
   * Waits until an attempt to `path` may go: past the origin's pause and its upstream's, behind
   * the probe after one, through the circuit. Rejects when `signal` aborts (the caller, or the
   * call's deadline).
   */
  async admit(path: string, deadlineAt: number, signal: AbortSignal): Promise<Admission> {
    for (;;) {
      signal.throwIfAborted();
      const now = performance.now();
      const pauses = this.#pausesFor(path);
      const held = pauses.find((pause) => pause.until > now || pause.probing);
      if (held !== undefined) {
        if (held.until > deadlineAt)
          return { kind: 'paused_past_deadline', until: held.until, hop: held.hop };
        if (held.until > now) await sleep(held.until - now, undefined, { signal });
        else await held.probeAnswered(signal);
        continue;
      }
      const circuit = this.#circuit?.admit(now) ?? { allowed: true, probe: false };
      if (!circuit.allowed) return { kind: 'circuit_open', retryAfterMs: circuit.retryAfterMs };
      return { kind: 'go', circuitProbe: circuit.probe, pauseProbes: pauses.filter((p) => p.claimProbe()) };
    }
  }

  /** The end of an attempt `admit` let go. */
  settle(admission: Admission & { kind: 'go' }, outcome: Settlement): void {
    const now = performance.now();
    if (outcome.abandoned) this.#circuit?.releaseProbe();
    // A Retry-After is the origin managing its load, not failing: the pause does what an open
    // circuit would, to the announced time instead of a guessed one.
    else this.#circuit?.record(now, outcome.failed === true, admission.circuitProbe);
    if (outcome.pauseMs !== undefined) this.#pauseOf(outcome.pauseHop).extend(now, outcome.pauseMs);
    for (const pause of admission.pauseProbes) pause.answered(outcome.abandoned === true);
  }

  /** The pauses that hold a call to `path`: the origin's, and its upstream's when one is known. */
  #pausesFor(path: string): Pause[] {
    const hop = this.#hopOfPath.get(path);
    const hopPause = hop === undefined ? undefined : this.#hopPauses.get(hop);
    return hopPause === undefined ? [this.#pause] : [this.#pause, hopPause];
  }

  #pauseOf(hop: string | undefined): Pause {
    if (hop === undefined) return this.#pause;
    let pause = this.#hopPauses.get(hop);
    if (pause === undefined) {
      // A gateway naming ever new upstreams must not grow this without bound: the oldest goes.
      if (this.#hopPauses.size >= MAX_HOPS)
        this.#hopPauses.delete(this.#hopPauses.keys().next().value as string);
      pause = new Pause(hop);
      this.#hopPauses.set(hop, pause);
    }
    return pause;
  }
}
