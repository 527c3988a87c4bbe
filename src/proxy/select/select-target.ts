import { Failure } from '../../core/failure/failure.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import { circuitRefusal } from '../../upstream/breakers/circuit-refusals.ts';
import { undiscoveredFailure } from '../../upstream/discovery/undiscovered.ts';
import { checksMayBeWrong, isAvailable } from '../../upstream/targets/target-state.ts';
import { poolFull, type Target, type Upstream } from '../../upstream/targets/upstream.ts';

/** A target picked for one attempt, and whether the attempt goes as a half-open probe. */
export interface Selection {
  readonly target: Target;
  /** The target's ejection ran out: this attempt decides whether it comes back. */
  readonly targetProbe: boolean;
  /** Gives back the target's probe slot (taken with the pick, so two picks cannot share one); a no-op when not a probe. */
  readonly releaseProbe: Release;
  /** The upstream's circuit is half-open: this attempt decides whether it closes. */
  readonly circuitProbe: boolean;
  /** The retry of a half-open probe whose failure opened the circuit again: the probe going on (selectTarget). */
  readonly probeGoesOn: boolean;
  /**
   * Picked in panic: the health checks' verdict was ignored (too few targets pass them), or
   * the ejections were (every target the checks let through is ejected).
   */
  readonly panic: boolean;
  /** The hash balancer's own target for the key, when the pick went elsewhere (it was out of rotation, or tried). */
  readonly hashHome: Target | undefined;
}

/**
 * Whether selectTarget(upstream, now) will refuse the first attempt whatever the request's body,
 * read without taking anything (no probe slot, no balancer credit): the upstream's circuit is
 * open (no probe slot free), or no target is in rotation (every one ejected, failing its checks
 * outside panic, drained; none discovered yet), and no `hold` would keep the request for a
 * target to come back (there is none, or the body `streams` from the client: never kept); or every target in rotation has its pool full and the queue is too
 * (`hold` waits for no pool: request-hold.ts). A client waiting for 100 Continue is then
 * answered from its head alone (RFC 9110 §10.1.1), its body never asked for: no upload is made
 * for a 503. Asked at the `now` the attempt selects at, so the two cannot disagree (an attempt
 * sent without its body).
 */
export function refusedBeforeBody(upstream: Upstream, now: number, streams: boolean): boolean {
  const held = upstream.config.hold !== undefined && !streams;
  if (!upstream.circuit.wouldAdmit(now)) return !held;
  const rotation = upstream.balancer.inRotation(now);
  if (rotation.length === 0) return !held;
  // Whichever target the balancer picks, its pool is full and none may wait (as below).
  return upstream.pending.count >= upstream.config.pool.maxPending && rotation.every(poolFull);
}

const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The circuit's word for the probe going on: let through, no probe slot of its own. */
const PROBE_GOES_ON = { allowed: true, probe: false } as const;

/**
 * The select phase: the upstream's circuit, then the balancer over the targets in rotation,
 * then the queue bound. Each refusal is the gateway's own decision and says when to come back.
 */
export function selectTarget(
  upstream: Upstream,
  now: number,
  tried: readonly Target[],
  hashKey?: string,
  retryOfProbe = false,
): Selection | Failure {
  // The retry of a half-open probe that its own failure opened again goes on past the open
  // circuit: the probe is the request. Refused, a target back from a restart, still ejected,
  // beside one still refusing (which holds max_ejected_percent's place and takes every probe)
  // was never asked, and the upstream answered 503 for the whole ejection though it could serve.
  const probeGoesOn = retryOfProbe && upstream.circuit.stateAt(now) === 'open';
  const circuit = probeGoesOn ? PROBE_GOES_ON : upstream.circuit.admit(now);
  if (!circuit.allowed) {
    // Marked: an auth hop's row keeps the failure that opened the circuit, not this (circuit-refusals.ts).
    return circuitRefusal(
      new Failure(
        'destination_unavailable',
        circuit.probing
          ? `the circuit of "${upstream.name}" is half-open after repeated failures${lastFailureOf(upstream, now)}: its probe is under way`
          : `the circuit of "${upstream.name}" is open after repeated failures${lastFailureOf(upstream, now)}`,
        {
          retryAfter: retryAfter(circuit.retryAfterMs),
        },
      ),
    );
  }
  const target = upstream.balancer.pick(now, tried, hashKey);
  if (!target) {
    if (circuit.probe) upstream.circuit.releaseProbe();
    const { discovery } = upstream.config;
    if (discovery !== undefined && upstream.targets.length === 0)
      return undiscoveredFailure(
        upstream.name,
        discovery,
        upstream.config.discoveryFailure,
        upstream.askingSince === undefined
          ? undefined
          : { ms: now - upstream.askingSince, connectTimeout: upstream.config.timeouts.connect },
      );
    return new Failure('destination_unavailable', noTargetReason(upstream, now), {
      retryAfter: retryAfter(nextChance(upstream, now)),
    });
  }
  const { maxPending } = upstream.config.pool;
  if (upstream.pending.count >= maxPending && poolFull(target)) {
    if (circuit.probe) upstream.circuit.releaseProbe();
    const waiting =
      maxPending === 0
        ? 'none may wait for one'
        : upstream.pending.count === 1
          ? '1 request already waits for one'
          : `${upstream.pending.count} requests already wait for one`;
    return new Failure(
      'connection_limit_reached',
      `every connection to "${upstream.name}" is busy and ${waiting} (pool.max_pending: ${maxPending})`,
      { retryAfter: 1 },
    );
  }
  const targetProbe = target.isHalfOpen(now);
  const home = hashKey === undefined ? undefined : upstream.balancer.home?.(hashKey);
  // Read before the pick takes its probe slot: taken, the last slot would read as out of rotation.
  const panic =
    upstream.panic.active || !isAvailable(target, now, upstream.config.circuitBreaker.halfOpenRequests);
  return {
    hashHome: home === target ? undefined : home,
    target,
    targetProbe,
    releaseProbe: targetProbe ? target.probes.acquire() : noRelease,
    circuitProbe: circuit.probe,
    probeGoesOn,
    panic,
  };
}

/** No target tried yet: the same list for every request's first attempt. */
export const NONE_TRIED: readonly Target[] = Object.freeze([]);

/** Whether a target not tried yet is in rotation (a retry could go somewhere new). */
export function hasUntriedTarget(upstream: Upstream, now: number, tried: readonly Target[]): boolean {
  const probes = upstream.config.circuitBreaker.halfOpenRequests;
  const panic = upstream.panic.active;
  return upstream.targets.some((t) => !tried.includes(t) && isAvailable(t, now, probes, panic));
}

/**
 * Whether a retry's pick would find a target not tried yet: the balancer's own answer, so that
 * with every target ejected (panic over ejections, `panic_threshold` above 0) the others count,
 * as the pick takes them; hasUntriedTarget's "in rotation" leaves them out, and a GET reset on one
 * was told there was "no other target to try" while a refused one went on to the next. Asked with
 * `tried`, so that a backup tier counts once every target of the tier in use was tried.
 */
export function retryFindsUntried(upstream: Upstream, now: number, tried: readonly Target[]): boolean {
  return upstream.balancer.inRotation(now, tried).some((t) => !tried.includes(t));
}

/**
 * Why no target is in rotation, each target counted once, under the first reason isAvailable
 * stops at. The operator's (drained, disabled, weight 0) wins: nothing overrides it, not even
 * panic, so that target stays out whatever its health, and it is the one reason that is the
 * operator's to undo. Then failing health checks, which outlast an ejection (an ejected target
 * comes back when its time runs out, a failing one only after `rise` good probes); then
 * ejection. Counted under each reason that held, two targets could read as three.
 */
function noTargetReason(upstream: Upstream, now: number): string {
  let out = 0;
  let down = 0;
  let ejected = 0;
  for (const t of upstream.targets) {
    if (t.admin !== 'enabled' || t.weight === 0) out++;
    else if (!t.checkedHealthy) down++;
    else if (t.isEjected(now) || t.isHalfOpen(now)) ejected++;
  }
  const parts: string[] = [];
  if (out > 0) parts.push(`${out} drained, disabled or weighted 0 by an operator`);
  if (down > 0) parts.push(`${down} failing health checks`);
  if (ejected > 0) parts.push(`${ejected} ejected after repeated failures`);
  return `no target of "${upstream.name}" is in rotation (${parts.join(', ') || 'all busy probing'})`;
}

/** The upstream's most recent target failure, so a refusal still says what the targets did. */
function lastFailureOf(upstream: Upstream, now: number): string {
  let last: { type: string; at: number } | undefined;
  for (const t of upstream.targets)
    if (t.lastFailure && (!last || t.lastFailure.at > last.at)) last = t.lastFailure;
  return last === undefined ? '' : ` (the last: ${last.type}, ${((now - last.at) / 1000).toFixed(1)} s ago)`;
}

/** Milliseconds until a target may take traffic again: the earliest end of an ejection or next probe of a target its checks took out, else a health-check interval. */
function nextChance(upstream: Upstream, now: number): number {
  let soonest = Number.POSITIVE_INFINITY;
  const panic = upstream.panic.active;
  const interval = upstream.config.healthCheck?.interval;
  // With `hold`, a probe that passes while a request waits ends the target's ejection
  // (active-checks.ts, heldMayGo), and a request sent again waits for that probe: the ejection
  // lasts no longer than the next probe. Its own end (a minute away) was a Retry-After that
  // held a client back long after the upstream served again.
  const probesEnd = upstream.config.hold !== undefined && interval !== undefined;
  for (const t of upstream.targets) {
    if (t.admin !== 'enabled') continue; // an operator's word: it comes back by no clock
    const ejected =
      probesEnd && t.lastProbe !== undefined
        ? Math.max(0, Math.min(t.ejectedUntil, t.lastProbe.at + interval) - now)
        : Math.max(0, t.ejectedUntil - now);
    // Panic sets aside only checks that may be wrong: a target whose probe could not reach it
    // stays out through its checks, and comes back no sooner than its next probe (counted
    // below, as with panic off), not after a whole interval.
    if (t.checkedHealthy || (panic && checksMayBeWrong(t))) {
      if (ejected > 0) soonest = Math.min(soonest, ejected);
      continue;
    }
    // Out through its checks: back no sooner than its next probe (due `interval` after the last
    // one ended), nor than its ejection's end when it is ejected too.
    if (interval !== undefined && t.lastProbe !== undefined)
      soonest = Math.min(soonest, Math.max(ejected, t.lastProbe.at + interval - now));
  }
  if (Number.isFinite(soonest)) return soonest;
  return interval ?? 1000;
}
