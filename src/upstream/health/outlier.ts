import type { Failure } from '../../core/failure/failure.ts';
import { type FailureType, TARGET_FAULT_SHAPES } from '../../core/failure/taxonomy.ts';
import type { Target, Upstream } from '../targets/upstream.ts';

/** Whether the failure says something about the target (its shape is one of the upstream's). */
export function isTargetFault(failure: Failure | undefined): boolean {
  return failure !== undefined && TARGET_FAULT_SHAPES.has(failure.kind.shape);
}

/**
 * What one outcome changed of a target's ejection: `ejected_again` is a failed half-open probe's,
 * the target out again for longer without having come back in between (one ejection that goes
 * on, not a second one for `candor_target_ejections_total`, whose difference with the returns
 * would otherwise count it as still out once it is back).
 */
export type OutlierChange = 'ejected' | 'ejected_again' | 'returned' | undefined;

/**
 * Passive health (outlier detection): the outcome of one attempt against a target. Failures
 * in a row eject it for a time that grows with each ejection in a row (one comes off for each
 * base ejection time it then stays in rotation); a success after an ejection
 * (the half-open probe) brings it back through slow start. At most `maxEjectedPercent` of the
 * pool (at least one target) is out at once, so a burst of false positives cannot empty it.
 * Returns what this outcome changed: the target ejected, or back in rotation after one.
 */
export function recordOutcome(
  upstream: Upstream,
  target: Target,
  failure: Failure | undefined,
  now: number,
  bodyToCome = false,
  sentEjected = false,
): OutlierChange {
  const policy = upstream.config.outlierDetection;
  if (!isTargetFault(failure)) {
    // An answer whose body is still to come ends no run of failures yet: its body may break too
    // (recordWholeBody ends it once it came whole), and a target that cuts every body short
    // would otherwise never be ejected, each head wiping the count its broken body had just made.
    if (!bodyToCome) target.consecutiveFailures = 0;
    // A request sent to it while ejected (no target left but ejected ones, or a retry's: tiers.ts)
    // is a probe as much as one sent once the time ran out: answered, the ejection is over. Kept,
    // a target back from a restart held `max_ejected_percent`'s place while answering, and the
    // refusing one beside it could not be ejected: it took every first try, each a retry.
    if (target.ejectedUntil !== 0 && (target.ejectedUntil <= now || sentEjected)) {
      target.ejectedUntil = 0;
      target.inRotationSince = now;
      return 'returned';
    }
    return undefined;
  }
  target.lastFailure = { type: (failure as Failure).type, at: now };
  // A request sent before the ejection that fails while it lasts (a hang's other requests timing
  // out in turn) is the fault the ejection was for, as in Envoy: counted again, it ejected the
  // target anew, told once more and pushed its end on, for each straggler past the threshold.
  if (target.ejectedUntil > now) return undefined;
  target.consecutiveFailures++;
  if (policy.consecutiveFailures === 0) return undefined;
  const probeFailed = target.ejectedUntil !== 0 && target.ejectedUntil <= now;
  if (!probeFailed && target.consecutiveFailures < policy.consecutiveFailures) return undefined;
  // A failed probe ejects again only within the bound too: a target the checks kept out gave
  // its place up (mayBeProbed), and another may have taken it meanwhile.
  if (!mayEject(upstream, target, now)) return undefined;
  // Envoy's multiplier: each base_ejection_time the target stayed in rotation since it last came
  // back takes one ejection off, so a blip long after the last one is a first ejection again,
  // not the nth of a target's lifetime. A failed probe (back for one request) takes none off.
  if (!probeFailed)
    target.ejections = Math.max(
      0,
      target.ejections - Math.floor((now - target.inRotationSince) / policy.baseEjectionTime),
    );
  target.ejections++;
  target.ejectedUntil = now + Math.min(policy.baseEjectionTime * target.ejections, policy.maxEjectionTime);
  target.consecutiveFailures = 0;
  return probeFailed ? 'ejected_again' : 'ejected';
}

/** An answer's body came whole: the target's run of failures in a row is over (see recordOutcome). */
export function recordWholeBody(target: Target): void {
  target.consecutiveFailures = 0;
}

/**
 * Another worker of the gateway ejected this target (its announcement, through the primary):
 * eject it here too for the time it has left, unless it is already out for longer, or is in
 * rotation here and one more ejection would pass this worker's `max_ejected_percent` (two
 * workers each ejecting a target of their own at once would otherwise leave both out in both).
 * With recordOutcome, unejectedByProbe and resumeEjections, the only writers of a target's ejection fields.
 */
export function ejectedElsewhere(
  upstream: Upstream,
  target: Target,
  now: number,
  forMs: number,
  ejections: number,
): void {
  if (target.ejectedUntil >= now + forMs) return;
  if (target.ejectedUntil === 0 && !mayEject(upstream, target, now)) return;
  target.ejectedUntil = now + forMs;
  target.ejections = Math.max(target.ejections, ejections);
  target.consecutiveFailures = 0;
}

/**
 * Targets named again (a DNS answer) that left while ejected (Upstream.departed): each resumes
 * the ejection it left with, its end and its count, within `max_ejected_percent` as any
 * ejection. New, it came back in rotation at once and took requests it was ejected for failing.
 */
export function resumeEjections(upstream: Upstream, now: number): void {
  for (const target of upstream.targets) {
    const was = upstream.departed.get(target.config.origin);
    if (was === undefined) continue;
    upstream.departed.delete(target.config.origin);
    if (was.ejectedUntil <= now || target.ejectedUntil !== 0 || !mayEject(upstream, target, now)) continue;
    target.ejectedUntil = was.ejectedUntil;
    target.ejections = was.ejections;
  }
}

/**
 * The failure another worker's attempt met on this target, told with the circuit it opened: the
 * target's last failure here too, unless this worker saw a later one, so this worker's 503s of
 * the open circuit name it as the opener's do (select-target.ts, lastFailureOf).
 */
export function failedElsewhere(target: Target, type: FailureType, at: number): void {
  if (target.lastFailure === undefined || target.lastFailure.at < at) target.lastFailure = { type, at };
}

/**
 * A passing active probe while requests wait for the upstream (its `hold`) ends the target's
 * ejection, as Envoy's `successful_active_health_check_uneject_host`: the refusals that
 * ejected it were a restart, and the probe says it is over. Only then: otherwise an ejection
 * for bad answers to requests would be undone by a health endpoint that still answers.
 */
export function unejectedByProbe(target: Target, now: number): boolean {
  if (target.ejectedUntil === 0) return false;
  target.ejectedUntil = 0;
  target.consecutiveFailures = 0;
  target.inRotationSince = now;
  return true;
}

/** Whether `target` may be (or stay) ejected within `max_ejected_percent`, counting the others out. */
function mayEject(upstream: Upstream, target: Target, now: number): boolean {
  const { targets } = upstream;
  const allowed = Math.max(
    1,
    Math.floor((targets.length * upstream.config.outlierDetection.maxEjectedPercent) / 100),
  );
  let ejected = 0;
  for (const t of targets)
    if (t !== target && (t.isEjected(now) || (t.isHalfOpen(now) && mayBeProbed(upstream, t)))) ejected++;
  return ejected < allowed;
}

/**
 * Whether a target whose ejection ran out can get the request that ends it (half-open). Until
 * then it keeps its place in `max_ejected_percent`, or its probe failing would eject it again
 * beside the one ejected meanwhile. A target the active checks (outside panic) or an operator
 * took out gets no request: it would hold that place for as long as it stays out, and leave the
 * next target that fails every request in rotation. Its time is over, as Envoy's would be.
 */
function mayBeProbed(upstream: Upstream, target: Target): boolean {
  if (target.admin !== 'enabled' || target.weight === 0) return false;
  return target.checkedHealthy || upstream.panic.active;
}
