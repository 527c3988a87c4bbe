import { Failure } from '../../core/failure/failure.ts';
import type { Release } from '../../core/limits/count.ts';
import { settleClientSpan, startClientSpan } from '../../observe/tracing/spans.ts';
import { reportBodyFailure, reportOutcome } from '../../upstream/health/report-outcome.ts';
import type { Target } from '../../upstream/targets/upstream.ts';
import { decideRetry } from '../decide/retry-policy.ts';
import { Exchange, type ExchangeOwner } from '../forward/exchange.ts';
import { UpstreamRequest } from '../forward/upstream-request.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import { hasUntriedTarget, type Selection, selectTarget } from '../select/select-target.ts';
import type { Admitted } from './admit.ts';
import { AttemptMetrics } from './attempt-metrics.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { CacheRun } from './cache-run.ts';
import { heldBytes, RequestHold } from './request-hold.ts';
import { TotalDeadline } from './total-deadline.ts';

/**
 * Select → forward → decide, repeated while a retry is safe and worth it: each attempt
 * picks a target (another one when it can), runs one Exchange, and reports its outcome to
 * passive health and the circuit breaker. The request's total deadline spans every attempt.
 */
export class Attempts implements ExchangeOwner {
  private readonly owner: AttemptsOwner;
  private readonly admitted: Admitted;
  /** What every attempt sends (the forward step's): path, headers, body. */
  private readonly request: UpstreamRequest;
  /** What the hash balancer hashes for this request; undefined for the other balancers. */
  private readonly hashKey: string | undefined;
  private readonly tried: Target[] = [];
  private current:
    | { exchange: Exchange; selection: Selection; startedAt: number; retry: boolean; settled: boolean }
    | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private retrySlot: Release | undefined;
  private readonly deadline: TotalDeadline;
  /** Stops the read of a body being buffered (the client left meanwhile). */
  private stopReading: (() => void) | undefined;
  /** Gives back the upstream's in-flight count (at the response's close, or once a tunnel is up). */
  private releaseInFlight: Release | undefined;
  private over = false;
  private readonly measure: AttemptMetrics;
  /** Waiting for a target to come back, when none can take the request (the upstream's `hold`). */
  private readonly hold: RequestHold;
  /** The route's cache for this request (it starts the attempts when it cannot answer); undefined: none. */
  private readonly cache: CacheRun | undefined;
  /** start() ran: before, the route's cache may have answered, and there is nothing to end. */
  private started = false;

  constructor(owner: AttemptsOwner, admitted: Admitted, cache: CacheRun | undefined) {
    this.cache = cache;
    this.owner = owner;
    this.admitted = admitted;
    const { runtime, head, record, fields } = owner;
    const { route, upstream } = admitted;
    this.measure = new AttemptMetrics(runtime.metrics, upstream.name, head.method, admitted.split?.window);
    this.request = new UpstreamRequest(owner.exchange, fields, record, runtime, {
      route,
      path: admitted.upstreamPath,
      authority: admitted.authority,
      protocol: owner.listener.protocol,
      vars: owner.templateVars(),
      responseEdit: owner.responseEdit(),
      requestEdit: admitted.requestEdit,
      retries: upstream.config.retries,
      store: cache,
    });
    const { balancer, hashKey, timeouts } = upstream.config;
    this.hashKey =
      balancer === 'hash' ? hashKeyOf(hashKey, { headers: fields }, record.clientAddress) : undefined;
    this.deadline = new TotalDeadline(timeouts.total, { grpc: record.grpc, fields });
    this.hold = new RequestHold(upstream, record, {
      // A new round: every target may be tried again.
      tryAgain: () => {
        this.tried.length = 0;
        this.attempt();
      },
      answer: (failure) => this.end(failure),
    });
  }

  start(): void {
    this.started = true;
    const { upstream } = this.admitted;
    const { exchange } = this.owner;
    this.releaseInFlight = upstream.inFlight.acquire();
    exchange.response.onClose(this.releaseInFlight);
    upstream.retryBudget.earn();
    this.stopReading = this.request.prepareBody(
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

  private attempt(): void {
    if (this.over) return;
    // Started by the first attempt only, after a body read for replay (see TotalDeadline).
    this.deadline.start(this.onTotalTimeout);
    const { admitted, request } = this;
    const { record } = this.owner;
    const { upstream } = admitted;
    const now = performance.now();
    const selection = selectTarget(upstream, now, this.tried, this.hashKey);
    if (selection instanceof Failure) {
      this.measure.refused(selection);
      return this.endOrWait(selection);
    }
    const { target } = selection;
    this.tried.push(target);
    record.target = target.config.origin;
    if (selection.panic) record.panic = true;
    // The log says when a key did not go to its own target (and which that was).
    record.hashHome = selection.hashHome?.config.origin;
    const retry = record.tries.length > 0;
    // With tracing on, each attempt is a span of its own: the upstream's parent.
    const traceparent = startClientSpan(
      this.owner.spans,
      upstream.name,
      target.config,
      request.path,
      admitted.route.path,
    );
    const options = request.forAttempt(traceparent, this.owner.nextHop() as string);
    const exchange = new Exchange(this.owner.exchange, record, upstream, target, this, options);
    this.current = { exchange, selection, startedAt: now, retry, settled: false };
    exchange.start();
  }

  /**
   * The attempt's outcome goes to passive health, the circuit, the retry budget, the metrics and
   * the log. The client's own doings (it left, its deadline passed) judge nobody.
   */
  private settle(failure: Failure | undefined, status: number | undefined): void {
    const current = this.current;
    if (!current || current.settled) return;
    current.settled = true;
    const { selection } = current;
    const target = selection.target.config.origin;
    const now = performance.now();
    reportOutcome(
      this.owner.runtime,
      {
        upstream: this.admitted.upstream,
        target: selection.target,
        failure,
        judged: failure === undefined || !failure.clientsOwn,
        reused: current.exchange.connectionReused,
        releaseTargetProbe: selection.releaseProbe,
        circuitProbe: selection.circuitProbe,
        retrySlot: current.retry ? this.retrySlot : undefined,
      },
      now,
    );
    if (current.retry) this.measure.retryOver(failure?.type ?? 'response');
    // A target took a request: those waiting for one go (hold-queue.ts).
    if (failure === undefined || failure.stage !== 'not_sent') this.admitted.upstream.hold.targetBack();
    if (failure !== undefined) this.measure.attemptFailed(target, failure, current.startedAt, now);
    else this.measure.responding(target, status as number, current.startedAt, now);
    settleClientSpan(this.owner.spans, failure, status, current.exchange);
    this.owner.record.tries.push({
      target,
      status,
      error: failure?.type,
      stage: failure?.stage,
      ms: Math.round((now - current.startedAt) * 100) / 100,
    });
  }

  attemptFailed(failure: Failure): void {
    this.settle(failure, undefined);
    this.current = undefined;
    if (this.over) return;
    const { admitted } = this;
    const { head, fields, record } = this.owner;
    const { upstream } = admitted;
    const verdict = decideRetry(failure, {
      req: { method: head.method, headers: fields },
      route: admitted.route,
      upstream,
      attempts: this.tried.length,
      bodyReplayable: this.request.body.kind !== 'stream' || failure.stage === 'not_sent',
      remaining: this.deadline.remaining(),
      noFreshTarget: !hasUntriedTarget(upstream, performance.now(), this.tried),
      reusedConnection: record.reusedConnection === true,
    });
    record.retrySkipped = verdict.skip;
    if (verdict.skip !== undefined) {
      this.owner.runtime.metrics.retrySkipped(upstream.name, verdict.skip);
      return this.endOrWait(failure);
    }
    this.measure.retrying(failure.type);
    this.retrySlot = verdict.charged ? upstream.retryBudget.trySpend() : upstream.retryBudget.track();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.retryNow();
    }, verdict.delay);
  }

  private retryNow(): void {
    this.attempt();
    // attempt() answered without starting an exchange (no target, circuit open): release the retry slot.
    if (this.current === undefined) this.retrySlot?.();
  }

  headReceived(status: number): void {
    this.settle(undefined, status);
    // No more attempts; the total deadline still runs until the body is through.
    this.stopRetrying();
    this.owner.responded(status);
  }

  replaced(status: number): void {
    this.settle(undefined, status);
    // The attempt is over and so is the request: the cache's answer needs no deadline.
    this.finishTimers();
    this.measure.responseOver('');
  }

  abandoned(failure: Failure): void {
    this.owner.clientLeft();
    this.owner.failed(this.dropped(failure));
  }

  /**
   * An attempt the client's leaving ended: every slot it holds (probes, retry) comes back and it
   * is counted, once; its outcome judges nobody. An answer the client cut short: its response is over.
   */
  private dropped(failure: Failure): Failure {
    this.settle(failure, undefined);
    this.measure.responseOver(failure.type);
    return failure;
  }

  responseSpent(): void {
    this.owner.responseSpent();
  }

  responseEnded(): void {
    this.finishTimers();
    this.measure.responseOver('');
  }

  tunnelled(status: number): void {
    this.settle(undefined, status);
    // The tunnel's life is no request's duration: the attempt ends with the switch.
    this.measure.responseOver('');
    // A tunnel lives as long as its two ends want: the total deadline is for HTTP exchanges,
    // and so is the retry budget's base of requests in flight.
    this.finishTimers();
    this.releaseInFlight?.();
    this.owner.tunnelled(status);
  }

  bodyFailed(failure: Failure): void {
    this.finishTimers();
    const { admitted } = this;
    const { record } = this.owner;
    this.owner.failed(failure);
    record.stage = 'body_streaming';
    // The head counted as a success; the broken body is a fault of the target all the same,
    // unless the client broke it (one that did not read, its own deadline): that proves nothing
    // of the target.
    const target = this.tried[this.tried.length - 1];
    if (target && failure.kind.shape !== 'client' && !failure.clientsOwn)
      reportBodyFailure(this.owner.runtime, admitted.upstream, target, failure, performance.now());
    const last = record.tries[record.tries.length - 1];
    if (last) record.tries[record.tries.length - 1] = { ...last, error: failure.type, stage: failure.stage };
    this.measure.responseOver(failure.type);
  }

  // ── the request as a whole ───────────────────────────────────────────────────────

  /** No more attempts: answer with this failure. */
  private end(failure: Failure): void {
    if (this.over) return;
    this.finishTimers();
    this.owner.record.stage = failure.stage;
    this.answer(failure);
  }

  /** The gateway's error response for the failure, unless the route's cache has an answer to stand in for it. */
  private answer(failure: Failure): void {
    // Recorded first: a stored answer may end the response (and write the log line) at once.
    this.owner.failed(failure);
    if (this.cache?.answerStale(failure)) return;
    this.owner.answer(failure);
  }

  /** No target took the request: it waits for one if its upstream holds requests and it may (request-hold.ts), else it is answered. */
  private endOrWait(failure: Failure): void {
    const answer = this.hold.wait(failure, heldBytes(this.request.body));
    if (answer !== undefined) this.end(answer);
  }

  /** No attempt follows this one. */
  private stopRetrying(): void {
    this.over = true;
    this.hold.cancel();
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
      this.retrySlot?.();
    }
  }

  private finishTimers(): void {
    this.stopRetrying();
    this.deadline.stop();
  }

  private readonly onTotalTimeout = (): void => {
    const current = this.current;
    const failure = this.deadline.failureAt(current?.exchange.reached ?? 'not_sent');
    // The attempt's cancel comes back through attemptFailed, which answers with this failure (no
    // retry: the deadline has passed), or mid-body through bodyFailed (the head went downstream).
    if (current) return current.exchange.cancel(failure);
    // In backoff: the retry will not run.
    this.measure.retryOver(failure.type);
    this.finishTimers();
    this.answer(failure);
  };

  /**
   * The downstream response closed (answered, cut, or the client left): nothing more is owed.
   * Returns the failure of the attempt it cut short, for the log; undefined when none was.
   */
  clientClosed(): Failure | undefined {
    if (!this.started) return undefined;
    const current = this.current;
    const { response, record } = this.owner;
    // The exchange ends without a word back (abandon()): its attempt is settled here.
    const cut = current !== undefined && !response.finished && !record.upgraded;
    const gone = cut ? current.exchange.abandon() : undefined;
    if (gone !== undefined) this.dropped(gone);
    // A retry still in backoff will not run: the client is gone.
    if (current === undefined) this.measure.retryOver('client_closed');
    this.stopReading?.();
    this.finishTimers();
    return gone;
  }
}
