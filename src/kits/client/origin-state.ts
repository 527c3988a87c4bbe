/**
 * What every call of one client shares about one origin: its retry budget, and the circuits
 * and Retry-After pauses of its scopes (scope.ts).
 *
 * A scope is the whole origin, or one upstream behind a gateway. A response whose Proxy-Status
 * member (the gateway the client talks to) names a `next-hop` is that gateway speaking for one
 * of its upstreams: its failure counts in that upstream's circuit, its Retry-After pauses that
 * upstream, and both hold the calls to the paths that answered through it while the gateway's
 * other routes go on. Without a next-hop (no Proxy-Status: the origin itself; a gateway
 * speaking for itself, as when it sheds load; no response at all) it is the whole origin's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientConfig } from './options.ts';
import type { Pause } from './pause.ts';
import { Scope } from './scope.ts';
import { WindowRetryBudget } from './window-retry-budget.ts';

/** One scope an attempt went through, and whether it went as that circuit's half-open probe. */
interface Passed {
  readonly scope: Scope;
  readonly circuitProbe: boolean;
}

export type Admission =
  | {
      readonly kind: 'go';
      /** The scopes it went through: the origin's, then its path's upstream's when known. */
      readonly passed: readonly Passed[];
      /** The pauses this attempt is the first after, the others waiting on its answer. */
      readonly pauseProbes: readonly Pause[];
    }
  | {
      readonly kind: 'circuit_open';
      readonly retryAfterMs: number;
      /** The upstream whose circuit is open (a gateway's next-hop), or undefined: the origin's. */
      readonly hop: string | undefined;
    }
  | {
      readonly kind: 'paused_past_deadline';
      readonly until: number;
      /** The upstream paused (a gateway's next-hop), or undefined: the whole origin. */
      readonly hop: string | undefined;
    };

/** How an admitted attempt ended, for the circuits and the pauses. */
export interface Settlement {
  /** No outcome: the attempt was abandoned (the caller aborted): it says nothing about the origin. */
  readonly abandoned?: boolean;
  /** A connection failure, or a 502/503/504 but a 503 whose Retry-After pauses. */
  readonly failed?: boolean;
  /** Milliseconds the origin asked for with a 503 or 429 Retry-After. */
  readonly pauseMs?: number;
  /** The upstream the answer was about (the gateway's `next-hop`); without one, the whole origin. */
  readonly hop?: string;
  /**
   * The gateway made the answer without attempting its upstream (RFC 9209's
   * `proxy_internal_response`: a cache miss under only-if-cached): a verdict on the gateway
   * alone, none on the upstream it names.
   */
  readonly local?: boolean;
  /**
   * A success whose body is still to come: it ends no run of failures yet (settleBody judges it
   * when the body ends), or each head would wipe the count the last broken body made, and an
   * origin that cuts every body short after a 200 head never opened its circuit. A half-open
   * probe is judged at its head, as the gateway's: a long body must not hold the only probe slot.
   */
  readonly bodyToCome?: boolean;
}

/** Upstreams behind one gateway, and paths of one origin, whose scope is remembered. */
const MAX_HOPS = 100;
const MAX_PATHS = 1_000;

export class OriginState {
  readonly budget: WindowRetryBudget | undefined;
  readonly #config: ClientConfig;
  readonly #origin: Scope;
  /** One scope per upstream a gateway named, by `next-hop`. */
  readonly #hops = new Map<string, Scope>();
  /** The upstream each path last answered through (least recently seen first). */
  readonly #hopOfPath = new Map<string, string>();

  constructor(config: ClientConfig) {
    this.#config = config;
    this.budget = config.budget && new WindowRetryBudget(config.budget);
    this.#origin = new Scope(config);
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
   * the probe after one, through both circuits. Rejects when `signal` aborts (the caller, or the
   * call's deadline).
   */
  async admit(path: string, deadlineAt: number, signal: AbortSignal): Promise<Admission> {
    for (;;) {
      signal.throwIfAborted();
      const now = performance.now();
      const scopes = this.#scopesFor(path);
      const held = scopes.map((s) => s.pause).find((pause) => pause.until > now || pause.probing);
      if (held !== undefined) {
        if (held.until > deadlineAt)
          return { kind: 'paused_past_deadline', until: held.until, hop: held.hop };
        if (held.until > now) await sleep(held.until - now, undefined, { signal });
        else await held.probeAnswered(signal);
        continue;
      }
      const passed: Passed[] = [];
      for (const scope of scopes) {
        const circuit = scope.circuit?.admit(now) ?? { allowed: true, probe: false };
        if (!circuit.allowed) {
          // A probe slot the origin's circuit gave this attempt goes back: the attempt is not made.
          for (const earlier of passed) if (earlier.circuitProbe) earlier.scope.circuit?.releaseProbe();
          return { kind: 'circuit_open', retryAfterMs: circuit.retryAfterMs, hop: scope.hop };
        }
        passed.push({ scope, circuitProbe: circuit.probe });
      }
      return { kind: 'go', passed, pauseProbes: scopes.map((s) => s.pause).filter((p) => p.claimProbe()) };
    }
  }

  /** The end of an attempt `admit` let go. */
  settle(admission: Admission & { kind: 'go' }, outcome: Settlement): void {
    const now = performance.now();
    const abandoned = outcome.abandoned === true;
    const failed = outcome.failed === true;
    // The scope the answer named (the gateway's next-hop), when it named one.
    const named = outcome.hop === undefined ? undefined : this.#scopeOf(outcome.hop);
    for (const { scope, circuitProbe } of admission.passed) {
      const circuit = scope.circuit;
      if (abandoned || (outcome.local === true && scope !== this.#origin)) {
        if (circuitProbe) circuit?.releaseProbe();
      } else if (named === undefined ? !failed || scope === this.#origin : scope === named) {
        // The answer's own scope, or an unnamed success (it went through every scope it passed).
        // A Retry-After is the origin managing its load, not failing: the pause does what an
        // open circuit would, to the announced time instead of a guessed one.
        if (failed || circuitProbe || outcome.bodyToCome !== true) circuit?.record(now, failed, circuitProbe);
      } else if (scope === this.#origin) {
        // The answer was about an upstream behind the gateway: the gateway itself answered.
        circuit?.record(now, false, circuitProbe);
      } else if (circuitProbe) {
        // Not about this upstream (no answer, or about another one): no verdict on it.
        circuit?.releaseProbe();
      }
    }
    if (!abandoned && failed && named !== undefined && !admission.passed.some((p) => p.scope === named))
      named.circuit?.record(now, true, false);
    if (outcome.pauseMs !== undefined) (named ?? this.#origin).pause.extend(now, outcome.pauseMs);
    for (const pause of admission.pauseProbes) pause.answered(abandoned);
  }

  /**
   * The body of a success settled with `bodyToCome` ended: read whole, the success its head
   * deferred; broken (cut, stalled, garbage), a failure of the origin's, as a failed head
   * without a next-hop is. Once per call; never for a body the caller cancelled (no verdict).
   */
  settleBody(admission: Admission & { kind: 'go' }, failed: boolean): void {
    const now = performance.now();
    for (const { scope } of admission.passed)
      if (!failed || scope === this.#origin) scope.circuit?.record(now, failed, false);
  }

  /** The scopes a call to `path` goes through: the origin's, and its upstream's when one is known. */
  #scopesFor(path: string): Scope[] {
    const hop = this.#hopOfPath.get(path);
    const scope = hop === undefined ? undefined : this.#hops.get(hop);
    return scope === undefined ? [this.#origin] : [this.#origin, scope];
  }

  #scopeOf(hop: string | undefined): Scope {
    if (hop === undefined) return this.#origin;
    let scope = this.#hops.get(hop);
    if (scope === undefined) {
      // A gateway naming ever new upstreams must not grow this without bound: the oldest goes.
      if (this.#hops.size >= MAX_HOPS) this.#hops.delete(this.#hops.keys().next().value as string);
      scope = new Scope(this.#config, hop);
      this.#hops.set(hop, scope);
    }
    return scope;
  }
}
