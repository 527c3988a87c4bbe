import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import { Count, type Release, type Taken } from '../../core/limits/count.ts';
import type { RetrySkip } from '../../core/retry/reasons.ts';
import { startClientSpan } from '../../observe/tracing/spans.ts';
import type { Target, Upstream } from '../../upstream/targets/upstream.ts';
import { type Admitted, routeTimeoutsOf, timeoutsOf } from '../admit/admit-request.ts';
import { decideRetry, letsRetry, newConnectionAfter, whyNotRetryAfterHead } from '../decide/retry-policy.ts';
import { Exchange } from '../forward/exchange.ts';
import type { ExchangeOutcome, ExchangeOwner } from '../forward/exchange-outcome.ts';
import { bodyGoesAgain } from '../forward/streamed-body-copy.ts';
import type { UpstreamRequest } from '../forward/upstream-request.ts';
import { NONE_TRIED, refusedBeforeBody, retryFindsUntried, selectTarget } from '../select/select-target.ts';
import type { StageAnswer } from '../stages/stage.ts';
import { Attempt, lastTryFailed, withTry } from './attempt.ts';
import { AttemptMetrics } from './attempt-metrics.ts';
import type { AttemptsOwner, OwnCall } from './attempts-owner.ts';
import { attemptCutOf } from './own-cut.ts';
import { requestHashKey } from './request-hash-key.ts';
import { type HoldOwner, heldBytes, holdOf, type RequestHold } from './request-hold.ts';
import { RetryBackoff } from './retry-backoff.ts';
import type { SessionRequest } from './session-request.ts';
import { TotalDeadline } from './total-deadline.ts';
import { upstreamRequestOf } from './upstream-request-of.ts';

/**
 * Select → forward → decide, repeated while a retry is safe and worth it: each attempt picks a target
 * (another when it can) and runs one Exchange, which reports how it settled once (settled(), then
 * bodyOver()); its outcome goes to passive health and the circuit (attempt.ts). One total deadline.
 */
export class Attempts implements ExchangeOwner, HoldOwner {
  private readonly req: SessionRequest;
  private readonly owner: AttemptsOwner;
  private admitted: Admitted;
  /** What every attempt sends (the forward step's): path, headers (a route stage meets them first), body. */
  readonly sends: UpstreamRequest;
  /** What the hash balancer hashes for this request; undefined for the other balancers. */
  private readonly hashKey: string | undefined;
  private tried: readonly Target[] = NONE_TRIED; // a list made by the first attempt, not grown from none
  private current: Attempt | undefined;
  private backoff: RetryBackoff | undefined; // a retry waiting out its backoff (each retry makes one)
  private retrySlot: Release | undefined;
  readonly deadline: TotalDeadline; // ExchangeOwner's: a head a route stage holds ends its wait too
  /** Stops the read of a body being buffered (the client left meanwhile). */
  private stopReading: (() => void) | undefined;
  /** Its place in the upstream's in-flight count, given back at the response's close (clientClosed; a closed one takes none) or once a tunnel is up. */
  private inFlight: Taken | undefined;
  private over = false;
  private readonly measure: AttemptMetrics;
  /** Waiting for a target to come back, when none can take the request (the upstream's `hold`): made when one could not. */
  private hold: RequestHold | undefined;
  /** A call the gateway makes itself (the auth hop): its own deadline, and it never holds. */
  private readonly own: OwnCall | undefined;
  /** start() ran: before, a route stage may have answered, and there is nothing to end. */
  private started = false;
  /** Held here alone, written to the record once at the end: how far the request got, and whether the last attempt's connection was reused. */
  private stage: Stage | undefined;
  private reused: boolean | undefined;
  /** The sink refused a head an upstream sent (defence in depth): the answer closes the connection. */
  private headRefused = false;

  constructor(req: SessionRequest, owner: AttemptsOwner, admitted: Admitted, own?: OwnCall) {
    this.req = req;
    this.owner = owner;
    this.admitted = admitted;
    const { runtime, head, record, fields } = req;
    const { upstream } = admitted;
    this.measure = new AttemptMetrics(runtime, upstream.name, head.method, admitted.window);
    this.deadline = new TotalDeadline(timeoutsOf(admitted), record, fields, this, own);
    this.sends = upstreamRequestOf(req, owner, admitted, this.deadline.upstream);
    const { balancer, hashKey } = upstream.config;
    this.hashKey = balancer === 'hash' ? requestHashKey(hashKey, req, admitted.requestEdit) : undefined;
    this.own = own;
  }

  start(): void {
    this.started = true;
    const { upstream } = this.admitted;
    const { exchange } = this.req;
    if (!exchange.answer.closed) this.inFlight = upstream.inFlight.take();
    upstream.retryBudget.earn();
    const now = performance.now(); // the attempt selects at the time its refusal was foreseen
    const unasked = exchange.head.expectContinue && refusedBeforeBody(upstream, now, this.sends.streams);
    if (this.sends.bodyless || unasked) return this.attempt(undefined, now); // no body to read first (most), or one not to ask for
    this.prepareBody(); // a method apart: its closures here made every start() allocate the context they capture
  }

  private prepareBody(): void {
    this.stopReading = this.sends.prepareBody(
      () => {
        this.stopReading = undefined;
        this.attempt();
      },
      (failure) => {
        this.stopReading = undefined;
        if (failure.type === 'client_closed') this.owner.clientLeft();
        this.end(failure);
      },
    );
  }

  // ── one attempt ──────────────────────────────────────────────────────────────────

  private attempt(last?: Failure, now = performance.now(), probe = false): void {
    if (this.over) return;
    // Started by the first attempt only, after a body read for replay (see TotalDeadline).
    if (!this.deadline.start(now)) return this.totalDeadlinePassed();
    const { admitted, sends, req } = this;
    const { upstream } = admitted;
    const selection = selectTarget(upstream, now, this.tried, this.hashKey, probe);
    if (selection instanceof Failure) {
      if (last && selection.type === 'destination_unavailable') return this.skipRetry('no_target', last);
      this.measure.refused(selection);
      return this.endOrWait(selection);
    }
    const { target } = selection;
    this.tried = this.tried.length === 0 ? [target] : [...this.tried, target];
    req.record.target = target.config.origin;
    if (selection.panic) req.record.panic = true;
    req.record.hashHome = selection.hashHome?.config.origin; // a key not on its own target: the log says which
    const retry = req.record.tries.length > 0;
    const traceparent = startClientSpan(req.spans, upstream.name, target.config, sends.path);
    const headers = sends.headersFor(traceparent, target);
    const timeouts = routeTimeoutsOf(admitted); // at this upstream: a held request may have moved
    const exchange = new Exchange(req.exchange, req.record, upstream, target, this, sends, headers, timeouts);
    this.current = new Attempt(exchange, selection, now, retry, this.retrySlot, req, this.measure, upstream);
    exchange.start(now, newConnectionAfter(last, this.reused, upstream, this.tried.at(-2) === target));
  }

  // ── what the exchange reports ────────────────────────────────────────────────────

  /** The attempt settled (ExchangeOwner): once, before anything of its answer's body. */
  settled(outcome: ExchangeOutcome, at?: number): void {
    switch (outcome.kind) {
      case 'failed':
        if (outcome.headRefused) this.headRefused = true;
        return this.attemptFailed(outcome.failure);
      case 'responded':
        return this.responded(outcome.status, at);
      case 'answered': // a route stage's answer in the upstream's place: the request is over too, and needs no deadline
        this.settle(undefined, outcome.status, true);
        this.answerEnded();
        return this.owner.answerWith(outcome.answer);
      case 'again': // a route stage asked again (exchange.ts): the request goes at once, without the fields named
        this.settle(undefined, outcome.status);
        this.measure.answerOver(undefined); // that attempt's duration: over
        this.current = undefined;
        this.sends.askAgainWithout(outcome.without);
        return this.attempt();
      case 'tunnelled':
        return this.tunnelled(outcome.status);
      case 'left':
        return this.left(outcome.failure);
    }
  }

  /** The body of the answer that went downstream is over (ExchangeOwner): whole, or cut with this failure. */
  bodyOver(failure: Failure | undefined): void {
    if (failure === undefined) return this.answerEnded();
    if (failure.type === 'client_closed') return this.left(failure); // its leaving: no fault of the target's
    this.bodyFailed(failure);
  }

  /** The current attempt's outcome, told once (attempt.ts); the log gets its entry, the request its connection's reuse. */
  private settle(failure: Failure | undefined, status?: number, bodyToCome = false, at?: number): void {
    const entry = this.current?.settle(failure, status, bodyToCome, at);
    if (entry === undefined) return;
    const { exchange } = this.current as Attempt;
    this.req.record.tries = withTry(this.req.record.tries, entry, exchange.endedInQueue);
    this.reused = exchange.connectionReused; // the last attempt's: the line's `reused` is of its `target`
  }

  private attemptFailed(failure: Failure): void {
    this.settle(failure, undefined);
    const probe = this.hold === undefined && this.current?.retryGoesOnAsProbe === true; // not a held try's
    this.current = undefined;
    if (this.over) return;
    const { admitted, req } = this;
    const { upstream } = admitted;
    const verdict = decideRetry(failure, {
      req: { method: req.head.method, headers: req.fields },
      route: admitted.route,
      upstream,
      attempts: this.tried.length,
      bodyReplayable: bodyGoesAgain(this.sends.body, failure),
      remaining: this.deadline.remaining(),
      noFreshTarget: !retryFindsUntried(upstream, performance.now(), this.tried),
      reusedConnection: this.reused === true, // the failed attempt's connection (none: not reused)
      retryOfProbe: probe,
    });
    if (verdict.skip !== undefined) return this.skipRetry(verdict.skip, failure);
    this.measure.retrying(failure.type);
    this.retrySlot = verdict.charged ? upstream.retryBudget.trySpend() : upstream.retryBudget.track();
    this.backoff = new RetryBackoff(failure, verdict.delay, this, this.backoff?.waitedMs, probe);
  }

  /** The backoff is over (RetryBackoff's owner): none if the loop was held up past the deadline or into a retry's floor, the circuit opened meanwhile (or half-open, probes out), or no target is left (attempt(last)). */
  retryNow(last: Failure, probe: boolean): void {
    const { deadline, req } = this;
    if (deadline.remaining() <= 0) this.end(deadline.leftNoTimeAfter(last, req.record.tries.length));
    else if (!deadline.leavesTimeForRetry()) this.skipRetry('deadline', last);
    else if (letsRetry(this.admitted.upstream, probe)) this.attempt(last, undefined, probe);
    else this.skipRetry('circuit_open', last);
    if (this.current === undefined) this.retrySlot?.(); // none started (no time, no target, circuit open)
  }

  private responded(status: number, at?: number): void {
    this.settle(undefined, status, true, at);
    this.stopRetrying(); // no more attempts
    this.deadline.headCame(); // the total deadline ends here, unless it covers the body too (TotalDeadline)
    this.owner.responded(status);
  }

  /** The client left while the attempt ran (a reset mid-upload, a close before the switch, or mid-body): its stage told now (clientClosed finds no cut). */
  private left(failure: Failure): void {
    this.stage = failure.stage;
    this.owner.clientLeft();
    this.owner.failed(this.dropped(failure));
  }

  /** An attempt the client's leaving ended: its slots come back, counted once, judging nobody; a cut answer's response is over (the upstream owed bytes unless the client was behind). */
  private dropped(failure: Failure): Failure {
    const behind = this.current?.exchange.clientBehind === true;
    this.settle(failure, undefined);
    this.measure.answerOver(failure, performance.now(), !behind);
    return failure;
  }

  private answerEnded(now = performance.now()): void {
    this.current?.bodyWhole(now); // one clock reading for the body's end, its metrics' too
    this.finishTimers();
    this.measure.answerOver(undefined, now, false, this.req.record.upstreamGrpcStatus);
  }

  private tunnelled(status: number): void {
    this.settle(undefined, status);
    // A tunnel lives as long as its ends want: the attempt ends with the switch; deadline and in-flight base are for HTTP.
    this.measure.answerOver(undefined);
    this.finishTimers();
    this.inFlight = Count.giveBack(this.inFlight);
    this.owner.tunnelled(status);
  }

  private bodyFailed(failure: Failure): void {
    this.finishTimers();
    this.owner.failed(failure);
    this.stage = 'body_streaming';
    this.current?.bodyFailed(failure);
    lastTryFailed(this.req.record, failure);
    this.measure.answerOver(failure);
    const skip = whyNotRetryAfterHead(failure, this.admitted.upstream, this.tried.length);
    this.measure.retrySkip(this.req.record, skip);
  }

  // ── the request as a whole ───────────────────────────────────────────────────────

  /** A held request may be tried again (HoldOwner): a new round, on its upstream's targets of now. */
  tryAgain(upstream: Upstream): void {
    [this.tried, this.admitted] = [NONE_TRIED, { ...this.admitted, upstream }];
    this.measure.retrySkip(this.req.record, undefined); // the skipped retry is made after all: this one
    this.attempt();
  }

  /** No more attempts: answer with this failure (HoldOwner too, when no target came in time), or a route stage's answer in its place. */
  end(failure: Failure): void {
    this.endWith(failure, this.owner.stageRun()?.onFailure(failure));
  }

  /** The end, the route's stages asked already (`instead`: their answer in the failure's place, their bug, or none). */
  private endWith(failure: Failure, instead: StageAnswer | Failure | undefined): void {
    if (this.over) return;
    this.finishTimers();
    this.measure.retryOver(failure.type); // a retry it overtook (in its backoff, out of time) ended so
    this.stage = failure.stage;
    // Recorded first: a stage's answer may end the response (and write the log line) at once.
    this.owner.failed(failure);
    if (instead === undefined) return this.owner.answer(failure, this.headRefused);
    if (instead instanceof Failure) return this.owner.answer(instead); // a stage's bug: its 500
    this.owner.answerWith(instead);
  }

  /** No retry for this failure: the log and the metrics say why not, and the request ends with it (or waits, held). */
  private skipRetry(skip: RetrySkip, failure: Failure): void {
    this.measure.retrySkip(this.req.record, skip); // one decided, then called off (retryNow): counted as skipped
    this.endOrWait(failure);
  }

  /** No target took it: a route stage's answer at once (beats one after `hold.timeout`), else held if it may, else answered. */
  private endOrWait(failure: Failure): void {
    const instead = this.owner.stageRun()?.onFailure(failure);
    if (instead !== undefined) return this.endWith(failure, instead);
    this.hold ??= holdOf(this.admitted, this.own, this.req, this, this.measure);
    const answer = this.hold === undefined ? failure : this.hold.wait(failure, heldBytes(this.sends));
    if (answer === failure)
      this.endWith(failure, undefined); // the stages were asked of it: not again
    else if (answer !== undefined) this.end(answer);
  }

  /** No attempt follows this one. */
  private stopRetrying(): void {
    this.over = true;
    this.hold?.cancel();
    if (this.backoff?.cancel()) this.retrySlot?.();
  }

  private finishTimers(): void {
    this.stopRetrying();
    this.deadline.stop();
  }

  /** The request's total deadline passed (TotalDeadline's owner). */
  totalDeadlinePassed(): void {
    const { current, deadline } = this;
    // Its cancel comes back as its failure, answered (no retry: past the deadline), or mid-body as its body's.
    if (current) {
      this.hold?.deadlinePassedTrying(deadline, current.exchange); // a woken try still connecting: the hold's
      return current.exchange.cancel(deadline.failureAt(current.exchange, this.sends.waitsForClient));
    }
    // Nothing under way: in backoff (the retry will not run), held, or before the first attempt.
    const tries = this.req.record.tries.length;
    const idle = this.backoff?.deadlinePassed(deadline, tries) ?? this.hold?.deadlinePassed(deadline, tries);
    this.end(idle ?? deadline.spentBeforeFirstAttempt());
  }

  /** The downstream response closed (answered, cut, or the client left): returns the failure that cut it short, for the log. */
  clientClosed(): Failure | undefined {
    if (!this.started) return undefined;
    const current = this.current;
    const { answer, record } = this.req;
    // The exchange ends without a word back (abandon()): its attempt is settled here.
    const cut = current !== undefined && !answer.finished && !record.upgraded;
    const gone = cut ? current.exchange.abandon() : undefined;
    const ownCut = cut ? attemptCutOf(answer, record, gone) : undefined;
    const failure = ownCut ?? gone;
    if (gone !== undefined) this.dropped(failure as Failure);
    // (After the drop: an attempt whose head had gone downstream was settled then, its try written.)
    if (failure) this.stage = ownCut === undefined ? failure.stage : lastTryFailed(record, failure);
    else if (cut && answer.headSent && !answer.wholeBeforeReset) this.stage = 'body_streaming'; // the client's copy cut
    if (current === undefined) this.measure.retryOver('client_closed'); // a retry in backoff will not run
    this.stopReading?.();
    this.finishTimers();
    this.inFlight = Count.giveBack(this.inFlight);
    record.stage = this.stage ?? (current === undefined ? 'not_sent' : undefined); // gone in a backoff or hold: nothing in flight (as its span says)
    record.reusedConnection = this.reused;
    record.heldMs = this.hold?.heldMs;
    record.backoffMs = this.backoff?.waitedMs;
    return failure;
  }
}
