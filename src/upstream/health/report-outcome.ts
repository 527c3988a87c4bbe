import type { Failure } from '../../core/failure/failure.ts';
import type { Release } from '../../core/limits/count.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import {
  applyCircuitNews,
  type CircuitNews,
  judgeCircuit,
  probeRetryAnswered,
} from '../breakers/upstream-circuit.ts';
import type { Target, Upstream } from '../targets/upstream.ts';
import {
  ejectedElsewhere,
  failedElsewhere,
  isTargetFault,
  recordOutcome,
  recordWholeBody,
} from './outlier.ts';

/**
 * News of one worker for the others of a cluster (through the primary): a target it ejected,
 * a circuit it opened. A deadline travels as the ms it has left: each process has its own clock.
 */
export type Announcement =
  | {
      readonly candor: 'ejected';
      readonly upstream: string;
      readonly origin: string;
      readonly forMs: number;
      readonly ejections: number;
      /** A failed half-open probe's: the same ejection going on (the primary counts no new one for its returns). */
      readonly again?: true;
    }
  | CircuitNews;

/**
 * What ended a target's ejection: `request`, a request's success once it ran out (its half-open
 * probe), or of one sent to it while ejected (recordOutcome); `check`, an active health check
 * that passed while requests waited for the upstream (outlier.ts, unejectedByProbe).
 */
export type ReturnedBy = 'request' | 'check';

/**
 * A cluster worker ended an ejection, told to the primary alone (not relayed): every worker ends
 * the ejection it was told of on its own, and the primary has the first return of each counted.
 */
export interface ReturnNews {
  readonly candor: 'returned';
  readonly upstream: string;
  readonly origin: string;
  readonly by: ReturnedBy;
}

/** Where a return is told: the log, and its count (in a cluster, through the primary). */
export interface ReturnSinks {
  readonly metrics: Pick<GatewayMetrics, 'returned'>;
  readonly logger: Logger;
  /** A cluster worker's line to the primary; absent in-process. */
  readonly announce?: (news: ReturnNews) => void;
}

/** Where an outcome is told besides the upstream's own state. */
export interface OutcomeSinks extends ReturnSinks {
  readonly metrics: GatewayMetrics;
  /** An ejection and a return are logged, once each, by the process that saw them. */
  readonly logger: Logger;
  /** A cluster worker's line to the others (through the primary); absent in-process. */
  readonly announce?: (news: Announcement | ReturnNews) => void;
}

/** One attempt against one target, as it ended. */
export interface AttemptOutcome {
  readonly upstream: Upstream;
  readonly target: Target;
  /** undefined: the target answered (its head went downstream). */
  readonly failure: Failure | undefined;
  /**
   * Whether the outcome says anything about the upstream: an answer or a fault of the
   * upstream's does; a client that left or sent a bad body, or a queue wait the gateway ended,
   * proves nothing (and must not reset the target's count of failures in a row, nor end its
   * ejection). An unjudged outcome only gives its slots back.
   */
  readonly judged: boolean;
  /** The attempt went on a kept-alive connection (a metrics label). */
  readonly reused: boolean;
  /**
   * It ended in a full pool's queue, never given a connection: nothing of it went upstream, so
   * it is no attempt in the metrics, as in the log's `attempts` (a full queue's refusal at once is none either).
   */
  readonly endedInQueue: boolean;
  /** The target's half-open probe slot the selection took (a no-op release when not a probe). */
  readonly releaseTargetProbe: Release;
  /** The attempt went as the circuit's half-open probe. */
  readonly circuitProbe: boolean;
  /**
   * The attempt is the retry of a half-open probe whose failure opened the circuit again: the
   * probe going on (select-target.ts). Answered, it closes the circuit; failed, it opens nothing
   * more (the circuit is open already, by the same request).
   */
  readonly probeGoesOn?: boolean;
  /** The retry budget's slot this attempt held, when it was a retry. */
  readonly retrySlot: Release | undefined;
  /** An answer whose body is still to come: its success ends a run of failures only once the body is whole (reportWholeBody). */
  readonly bodyToCome: boolean;
  /** The target's `ejectedUntil` when the attempt went: an ejection since is told by its change (sentBeforeEjection). */
  readonly ejectedUntilAtSend: number;
  /** The target was ejected (its time not over) when the attempt went to it, as `ejectedUntilAtSend` says: its answer ends that ejection (recordOutcome). */
  readonly sentEjected: boolean;
}

/**
 * The attempt went to its target before the ejection the target is in now (made since, by this
 * worker or another): its failure is the fault that ejection already answers for. Counted toward
 * the upstream's circuit too, one dead target's stragglers opened it for the healthy ones: a dead
 * target's refusals come back faster than the others' answers, twenty "in a row" by completion.
 * An attempt sent to a target already ejected (every target was: isOnlyEjected) counts as any.
 */
function sentBeforeEjection(target: Target, ejectedUntilAtSend: number, now: number): boolean {
  return target.ejectedUntil > now && target.ejectedUntil !== ejectedUntilAtSend;
}

/**
 * The one place an attempt's outcome is fed to what judges the upstream (as Envoy's
 * `putResult`): outlier detection, the circuit breaker, the retry budget's slot, the other
 * workers of a cluster and the metrics. Called once per attempt.
 */
export function reportOutcome(sinks: OutcomeSinks, outcome: AttemptOutcome, now: number): void {
  const { upstream, target, failure, judged } = outcome;
  const { metrics } = sinks;
  const origin = target.config.origin;
  // Read before judge(): the failure that ejects the target is one of the circuit's own.
  const straggler = sentBeforeEjection(target, outcome.ejectedUntilAtSend, now);
  outcome.releaseTargetProbe();
  // Only the ejection it was sent into: not one made since, by a request that went after it.
  const sentEjected = outcome.sentEjected && target.ejectedUntil === outcome.ejectedUntilAtSend;
  if (judged) judge(sinks, upstream, target, failure, now, outcome.bodyToCome, sentEjected);
  // A failure after this target's answer (a plugin's onResponse threw, or let out its fetch's
  // failure: answeredFirst) leaves the attempt what it was, a response.
  const answered = failure === undefined || failure.answeredFirst;
  if (!outcome.endedInQueue)
    metrics.attempted(upstream.name, origin, answered ? 'response' : failure.type, outcome.reused);
  const fault = isTargetFault(failure);
  // An answer whose body is still to come ends no run of the circuit's failures yet, as for
  // ejection: its body may break too (reportWholeBody and reportBodyFailure judge it then), and
  // each head would otherwise wipe the count that the last broken body made, so an upstream that
  // cuts every body short never opened its circuit. A half-open probe is judged at its head: a
  // body that streams for minutes must not hold the circuit's only probe slot.
  const waitForBody = failure === undefined && outcome.bodyToCome && !outcome.circuitProbe;
  // A straggler's fault is its target's ejection's (sentBeforeEjection); a probe's is always the circuit's.
  const ejectionsFault = fault && straggler && !outcome.circuitProbe;
  if (judged && failure === undefined && outcome.probeGoesOn === true)
    probeRetryAnswered(upstream.circuit, upstream.name, now, sinks);
  else if (judged && (fault || failure === undefined) && !waitForBody && !ejectionsFault)
    judgeCircuit(upstream.circuit, upstream.name, failure?.type, outcome.circuitProbe, now, sinks, origin);
  else if (outcome.circuitProbe) upstream.circuit.releaseProbe();
  outcome.retrySlot?.();
}

/**
 * The body of a response whose head counted as a success broke: a fault of the target all the
 * same, for outlier detection and the circuit (the attempt itself was reported when its head came).
 */
export function reportBodyFailure(
  sinks: OutcomeSinks,
  upstream: Upstream,
  target: Target,
  failure: Failure,
  now: number,
  ejectedUntilAtSend: number,
): void {
  const straggler = sentBeforeEjection(target, ejectedUntilAtSend, now);
  judge(sinks, upstream, target, failure, now);
  if (isTargetFault(failure) && !straggler)
    judgeCircuit(upstream.circuit, upstream.name, failure.type, false, now, sinks, target.config.origin);
}

/**
 * The body of a response whose head counted as a success came whole: for outlier detection and
 * the circuit, the success is complete (a run of failures in a row ends).
 */
export function reportWholeBody(sinks: OutcomeSinks, upstream: Upstream, target: Target, now: number): void {
  recordWholeBody(target);
  judgeCircuit(upstream.circuit, upstream.name, undefined, false, now, sinks);
}

/** An announcement of another worker's: the circuit or the target it names takes the same state here. */
export function applyAnnouncement(upstream: Upstream, news: Announcement, now: number): void {
  if (news.candor === 'circuit-opened' && news.failure !== undefined) {
    const { origin, type, ageMs } = news.failure;
    const target = upstream.targets.find((t) => t.config.origin === origin);
    if (target !== undefined) failedElsewhere(target, type, now - ageMs);
  }
  if (news.candor !== 'ejected') return applyCircuitNews(upstream.circuit, news, now);
  const target = upstream.targets.find((t) => t.config.origin === news.origin);
  if (target !== undefined) ejectedElsewhere(upstream, target, now, news.forMs, news.ejections);
}

/** Outlier detection judges the outcome; an ejection or a return is told (metrics, log, the other workers). */
function judge(
  sinks: OutcomeSinks,
  upstream: Upstream,
  target: Target,
  failure: Failure | undefined,
  now: number,
  bodyToCome = false,
  sentEjected = false,
): void {
  const change = recordOutcome(upstream, target, failure, now, bodyToCome, sentEjected);
  if (change === 'ejected' || change === 'ejected_again')
    ejected(sinks, upstream, target, failure as Failure, now, change === 'ejected_again');
  else if (change === 'returned') tellReturn(sinks, upstream, target, 'request');
}

/**
 * A target's ejection ended here: logged by this process, counted once for the gateway. In a
 * cluster an ejection is counted by the worker that made it, and told to the others, which end
 * it each on its own: counted by each, one return would read as N. So a worker tells the primary,
 * which has the first return of each ejection counted (gateway-wide.ts) and drops the others.
 */
export function tellReturn(sinks: ReturnSinks, upstream: Upstream, target: Target, by: ReturnedBy): void {
  const origin = target.config.origin;
  sinks.logger.info(
    { upstream: upstream.name, target: origin, ejections: target.ejections, by },
    'target back in rotation',
  );
  if (sinks.announce !== undefined)
    sinks.announce({ candor: 'returned', upstream: upstream.name, origin, by });
  else sinks.metrics.returned(upstream.name, origin, by);
}

function ejected(
  sinks: OutcomeSinks,
  upstream: Upstream,
  target: Target,
  failure: Failure,
  now: number,
  again: boolean,
): void {
  const origin = target.config.origin;
  // A failed probe's ejection is the one the target was in, going on: counted, with the return
  // that ends it, once (increase(ejections) − increase(returns) is what is still out).
  if (!again) sinks.metrics.ejected(upstream.name, origin);
  sinks.logger.warn(
    {
      upstream: upstream.name,
      target: origin,
      reason: failure.type,
      until: new Date(performance.timeOrigin + target.ejectedUntil).toISOString(),
      for_ms: Math.round(target.ejectedUntil - now),
      ejections: target.ejections,
      ...(again ? { again: true } : {}),
    },
    'target ejected',
  );
  sinks.announce?.({
    candor: 'ejected',
    upstream: upstream.name,
    origin,
    forMs: target.ejectedUntil - now,
    ejections: target.ejections,
    ...(again ? { again: true as const } : {}),
  });
}
