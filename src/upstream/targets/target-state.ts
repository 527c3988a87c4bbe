import type { TargetConfig } from '../../core/config/types.ts';
import type { FailureType, Shape } from '../../core/failure/taxonomy.ts';
import { Count } from '../../core/limits/count.ts';
import type { CircuitState } from '../../core/retry/circuit.ts';

export type AdminTargetState = 'enabled' | 'draining' | 'disabled';

/**
 * Why a probe failed: a classified failure from the taxonomy (connection_refused,
 * http_response_timeout...), or a whole answer with a status the check does not expect —
 * which is no failure of the exchange (the upstream answered, and said it is unwell), so it
 * has a type and shape of its own.
 */
export interface ProbeFailure {
  readonly type: FailureType | 'unexpected_status';
  readonly shape: Shape | 'status';
  readonly details: string;
}

/** One probe's outcome. */
export interface ProbeResult {
  readonly ok: boolean;
  /** When the probe ended (monotonic ms, performance.now(), like every time in TargetState). */
  readonly at: number;
  /** How long it took. */
  readonly ms: number;
  /** The status of the answer, when a head came back. */
  readonly status?: number;
  readonly failure?: ProbeFailure;
}

/**
 * A target's live state, as every part that judges it writes it: active health checks set
 * `checkedHealthy` and `lastProbe`, passive outlier detection sets the ejection fields, the balancer reads
 * them all through `isAvailable` and `effectiveWeight`. One object per target, shared.
 */
export class TargetState {
  /** The target's config; a reload that keeps the target (same URL) replaces it, the state stays. */
  config: TargetConfig;
  /**
   * The admin API's say (src/server/admin): `draining` and `disabled` take no new requests, in-flight
   * ones finish; `disabled` also stops its health checks. Kept across reloads with the target.
   */
  admin: AdminTargetState = 'enabled';
  /** A weight set through the admin API, over the config's until the target leaves the config. */
  adminWeight: number | undefined;
  /** Requests in flight to this target (the exchanges and tunnels that hold it). */
  readonly active = new Count();
  /** The tunnels among `active`: after its 101 a tunnel's connection leaves the pool and its bound. */
  readonly tunnels = new Count();
  /** Active health checks' verdict (true while no checks are configured). */
  checkedHealthy = true;
  /** The active checks' last probe (for the admin view); undefined before the first one ends, or without checks. */
  lastProbe: ProbeResult | undefined;
  /** Passive detection: ejected until this time (monotonic ms, performance.now()); 0: not ejected. */
  ejectedUntil = 0;
  /** How many times it was ejected; each ejection lasts longer. */
  ejections = 0;
  /** Gateway failures in a row (unreachable, slow, reset, garbage). */
  consecutiveFailures = 0;
  /** Probe requests in flight while half-open (after an ejection expired, before a success). */
  readonly probes = new Count();
  /**
   * Its credit in the smooth round robin (round_robin, and least_conn among the targets at the
   * least): the target's, not the balancer's, so that a reload or a DNS answer, which builds a new
   * balancer on the targets it keeps, goes on with their turn rather than starting it again at
   * the first target listed.
   */
  credit = 0;
  /** When it last came (back) into rotation, for slow start; -Infinity: always was. */
  inRotationSince = Number.NEGATIVE_INFINITY;
  /** The last failure seen, for the log and the admin view. */
  lastFailure: { readonly type: FailureType; readonly at: number } | undefined;

  constructor(config: TargetConfig) {
    this.config = config;
  }

  /** The weight the balancer uses: the admin API's, else the config's; 0 takes it out of rotation. */
  get weight(): number {
    return this.adminWeight ?? this.config.weight;
  }

  /** Ejected and its time is not over yet. */
  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /** The ejection ran out but no request has succeeded since: it takes probes only. */
  isHalfOpen(now: number): boolean {
    return this.ejectedUntil !== 0 && this.ejectedUntil <= now;
  }

  /**
   * Its ejection as a circuit's state: `open` while ejected, `half_open` once that ran out and
   * until a request (its probe) or a passing check ends it, else `closed`. What `/status` and
   * `candor_circuit_state` both say of the target.
   */
  ejectionState(now: number): CircuitState {
    return this.isEjected(now) ? 'open' : this.isHalfOpen(now) ? 'half_open' : 'closed';
  }
}

/**
 * Whether panic may set aside this target's failing checks. Panic distrusts a health path (a
 * dependency of its own, a wrong path, a deploy that broke only the probe), not the network:
 * a probe that could not even reach the target (refused, unroutable, its name or TLS refused) met
 * what a request to it would meet, so panic sending requests there only turns the gateway's
 * 503 into one 502 per request. A connect the probe's own `timeout` cut short is not that
 * proof: a request may wait longer for its connection.
 */
export function checksMayBeWrong(target: TargetState): boolean {
  const failure = target.lastProbe?.failure;
  return failure?.shape !== 'unreachable' || failure.type === 'connection_timeout';
}

/**
 * Whether the balancer may send this request to the target now. In panic (see panic.ts) the
 * health checks' verdict is ignored (unless they found it unreachable); ejection never is.
 */
export function isAvailable(
  target: TargetState,
  now: number,
  halfOpenProbes: number,
  panic = false,
): boolean {
  // An operator's decision is never overridden, not even by panic.
  if (target.admin !== 'enabled' || target.weight === 0) return false;
  if (!target.checkedHealthy && !(panic && checksMayBeWrong(target))) return false;
  if (target.isEjected(now)) return false;
  if (target.isHalfOpen(now)) return target.probes.count < halfOpenProbes;
  return true;
}

/**
 * Out of rotation only because outlier detection ejected it (or its half-open probes are all
 * taken): what the balancer falls back on when ejections leave no target at all. Ejection
 * ranks targets by the requests they failed; with none left to prefer, the request goes to
 * one of them and the client learns the real failure (connection_refused...) rather than the
 * gateway's 503. Envoy does the same: an ejected host counts as unhealthy, and panic routes
 * to it.
 */
export function isOnlyEjected(target: TargetState, now: number, panic = false): boolean {
  if (target.admin !== 'enabled' || target.weight === 0) return false;
  if (!target.checkedHealthy && !(panic && checksMayBeWrong(target))) return false;
  return target.isEjected(now) || target.isHalfOpen(now);
}

/**
 * Slow start: a target back in rotation gets a share that grows linearly from 10% to its
 * full weight over `window` ms, so a cold cache or JIT is not hit by a full share at once.
 */
export function effectiveWeight(target: TargetState, now: number, window: number): number {
  const weight = target.weight;
  if (window <= 0) return weight;
  const since = now - target.inRotationSince;
  if (since >= window) return weight;
  return weight * Math.max(0.1, since / window);
}
