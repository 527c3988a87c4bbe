import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import type { Failure } from '../../core/failure/failure.ts';
import { headCame, type Stage } from '../../core/failure/taxonomy.ts';
import type { Release } from '../../core/limits/count.ts';
import type { RequestRecord, TryLine } from '../../observe/log/request-record.ts';
import { type RequestSpans, settleClientSpan } from '../../observe/tracing/spans.ts';
import {
  type AttemptOutcome,
  reportBodyFailure,
  reportOutcome,
  reportWholeBody,
} from '../../upstream/health/report-outcome.ts';
import type { Target, Upstream } from '../../upstream/targets/upstream.ts';
import { probeGoesOn } from '../decide/retry-policy.ts';
import type { Exchange } from '../forward/exchange.ts';
import type { Selection } from '../select/select-target.ts';
import type { AttemptMetrics } from './attempt-metrics.ts';
import type { Runtime } from './runtime.ts';

/**
 * What every attempt of one request reports to, besides its metrics: the same for all of them (not
 * its upstream: a held request may move). The session's request itself (SessionRequest), not an
 * object made a request to hand them over.
 */
export interface AttemptSinks {
  readonly runtime: Runtime;
  readonly spans: RequestSpans | undefined;
}

/**
 * One attempt: the target the select phase picked, the exchange the forward phase runs on it,
 * and its outcome, told once (settle()) to passive health, the circuit and the retry budget
 * (reportOutcome), the metrics and the attempt's span; the attempt loop writes its log entry.
 * Settled, the attempt is its own outcome (AttemptOutcome): none is made to be told.
 */
export class Attempt implements AttemptOutcome {
  readonly exchange: Exchange;
  readonly selection: Selection;
  readonly #startedAt: number;
  /** A retry: its result is counted once known. */
  readonly #retry: boolean;
  /** The retry budget's slot a retry holds (given back by reportOutcome); undefined for a first attempt. */
  readonly retrySlot: Release | undefined;
  readonly #sinks: AttemptSinks;
  /** The request's attempt metrics, every attempt's. */
  readonly #measure: AttemptMetrics;
  /** The upstream of the target tried: its health, circuit and hold hear the outcome. */
  readonly upstream: Upstream;
  #settled = false;
  /** How it ended (set by settle()): undefined, the target answered. */
  #failure: Failure | undefined = undefined;
  /** Its answer's head counted as a success with the body still to come (bodyWhole, bodyFailed). */
  #bodyToCome = false;
  readonly ejectedUntilAtSend: number;

  constructor(
    exchange: Exchange,
    selection: Selection,
    startedAt: number,
    retry: boolean,
    retrySlot: Release | undefined,
    sinks: AttemptSinks,
    measure: AttemptMetrics,
    upstream: Upstream,
  ) {
    this.exchange = exchange;
    this.selection = selection;
    this.#startedAt = startedAt;
    this.#retry = retry;
    this.retrySlot = retry ? retrySlot : undefined;
    this.#sinks = sinks;
    this.#measure = measure;
    this.upstream = upstream;
    this.ejectedUntilAtSend = selection.target.ejectedUntil;
  }

  // What AttemptOutcome reads of it, once settled (read-only: only the attempt's own steps change it).
  get failure(): Failure | undefined {
    return this.#failure;
  }
  get bodyToCome(): boolean {
    return this.#bodyToCome;
  }
  get target(): Target {
    return this.selection.target;
  }
  get judged(): boolean {
    return this.#failure === undefined || this.#failure.faultsTarget;
  }
  get reused(): boolean {
    return this.exchange.connectionReused === true;
  }
  get endedInQueue(): boolean {
    return this.exchange.endedInQueue;
  }
  get releaseTargetProbe(): Release {
    return this.selection.releaseProbe;
  }
  get circuitProbe(): boolean {
    return this.selection.circuitProbe;
  }
  get probeGoesOn(): boolean {
    return this.selection.probeGoesOn;
  }
  /** Failed, it opened the circuit again as its half-open probe: its retry is the probe going on (retry-policy.ts). */
  get retryGoesOnAsProbe(): boolean {
    return probeGoesOn(this, this.upstream);
  }
  get sentEjected(): boolean {
    return this.ejectedUntilAtSend > this.#startedAt;
  }

  /**
   * The attempt's outcome (a failure, or the status of the head that went downstream) goes to
   * everything that counts it, once, and comes back as the log's entry for it (undefined: it was
   * settled already). Only an answer or a fault of the target's judges it: the client's own
   * doings (it left, its deadline passed, its body was too large or too slow) and the gateway's
   * (a queue wait that expired before the target took the request) say nothing of it, and
   * counted as an answer they wiped its failures in a row and ended a lapsed ejection.
   * `bodyToCome`: an answer whose body follows, whose success outlier detection takes as whole
   * only once the body is (bodyWhole). `now`: when it settled, if the exchange read the clock for that moment.
   */
  settle(
    failure: Failure | undefined,
    status: number | undefined,
    bodyToCome = false,
    now = performance.now(),
  ): TryLine | undefined {
    if (this.#settled) return undefined;
    this.#settled = true;
    this.#failure = failure;
    this.#bodyToCome = bodyToCome && failure === undefined;
    const { selection, exchange, upstream } = this;
    const { runtime, spans } = this.#sinks;
    const measure = this.#measure;
    const target = selection.target.config.origin;
    const startedAt = this.#startedAt;
    reportOutcome(runtime, this, now);
    // A failure after the target's answer (a plugin's onResponse: answeredFirst) is the request's: the retry got a response.
    const received = failure?.answeredFirst === true ? failure.receivedStatus : undefined;
    if (this.#retry)
      measure.retryOver(failure === undefined || received !== undefined ? 'response' : failure.type);
    // A target answered: those waiting for one go (hold-queue.ts). A connection closed or timed
    // out before any answer is no sign of one back (a front that accepts and closes, docker-proxy's
    // with its container down): it would send every waiting request to the same close.
    if (failure === undefined || headCame(failure.stage)) upstream.hold.targetBack();
    if (failure !== undefined)
      measure.attemptFailed(
        target,
        failure,
        startedAt,
        now,
        exchange.headOwedSince(startedAt),
        exchange.endedInQueue,
      );
    else measure.responding(target, status as number, startedAt, now, exchange.streamedWholeAt);
    settleClientSpan(spans, failure, status, exchange);
    // The gateway failed on the answer (a plugin's onResponse): the attempt's entry is that answer,
    // its status; the failure is the line's own.
    return {
      target,
      status: status ?? received,
      error: received === undefined ? failure?.type : undefined,
      stage: failure?.stage,
      ms: Math.round((now - startedAt) * 100) / 100,
    };
  }

  /**
   * Its answer's body broke after the head went downstream. The head counted as a success; the
   * broken body is a fault of the target all the same, unless the client broke it (one that did
   * not read, its own deadline): that proves nothing of the target.
   */
  bodyFailed(failure: Failure): void {
    if (!this.#bodyToCome) return;
    this.#bodyToCome = false;
    if (failure.kind.shape === 'client' || failure.clientsDoing) return;
    reportBodyFailure(
      this.#sinks.runtime,
      this.upstream,
      this.selection.target,
      failure,
      performance.now(),
      this.ejectedUntilAtSend,
    );
  }

  /** Its answer's body came whole: the target's success is complete (a run of failures in a row ends, the circuit's too). */
  bodyWhole(now = performance.now()): void {
    if (!this.#bodyToCome) return;
    this.#bodyToCome = false;
    reportWholeBody(this.#sinks.runtime, this.upstream, this.selection.target, now);
  }
}

/**
 * The log's tries with this one after them: the first a list of one (pushed into the empty list,
 * it took room for 17). One that ended in a full pool's queue (its wait ran out, its client left
 * or its deadline, the client's gRPC one too, passed there) never went upstream: it is no
 * attempt, as when the queue was full at once (the line's queued_ms names the wait).
 */
export function withTry(tries: TryLine[], entry: TryLine, endedInQueue: boolean): TryLine[] {
  if (endedInQueue) return tries;
  if (tries.length === 0) return [entry];
  tries.push(entry);
  return tries;
}

/**
 * The log's entry of the last attempt takes the failure its body ended with (its head had gone
 * downstream); returns the failure's stage, the attempt loop's from then on.
 */
export function lastTryFailed(record: RequestRecord, failure: Failure): Stage | undefined {
  const last = record.tries[record.tries.length - 1];
  if (last) record.tries[record.tries.length - 1] = { ...last, error: failure.type, stage: failure.stage };
  return failure.stage;
}
