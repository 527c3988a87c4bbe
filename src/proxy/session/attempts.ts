import { Failure } from '../../core/failure/failure.ts';
import type { Release } from '../../core/limits/count.ts';
import { hasBody } from '../../core/net/downstream.ts';
import { settleClientSpan, startClientSpan } from '../../observe/tracing/spans.ts';
import { reportBodyFailure, reportOutcome } from '../../upstream/health/report-outcome.ts';
import type { Target } from '../../upstream/targets/upstream.ts';
import { decideRetry } from '../decide/retry-policy.ts';
import { type AttemptBody, Exchange, type ExchangeOwner } from '../forward/exchange.ts';
import { applyHeaderRules, type HeaderEdit } from '../forward/header-rules.ts';
import { prepareBody } from '../forward/request-body.ts';
import { bufferWanted } from '../forward/request-buffering.ts';
import { buildUpstreamHeaders, withTraceparent } from '../forward/request-headers.ts';
import { upstreamPath } from '../route/rewrite.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import { hasUntriedTarget, type Selection, selectTarget } from '../select/select-target.ts';
import type { Admitted } from './admit.ts';
import { AttemptMetrics } from './attempt-metrics.ts';
import type { AttemptsOwner } from './attempts-owner.ts';

/**
 * Select → forward → decide, repeated while a retry is safe and worth it: each attempt
 * picks a target (another one when it can), runs one Exchange, and reports its outcome to
 * passive health and the circuit breaker. The route's total deadline spans every attempt.
 */
export class Attempts implements ExchangeOwner {
  private readonly owner: AttemptsOwner;
  private readonly admitted: Admitted;
  private readonly headers: string[];
  private readonly path: string;
  private readonly via: string;
  /** What the hash balancer hashes for this request; undefined for the other balancers. */
  private readonly hashKey: string | undefined;
  /** The route's response rules for this request; undefined when it has none. */
  private readonly responseEdit: HeaderEdit | undefined;
  private readonly tried: Target[] = [];
  private body: AttemptBody = { kind: 'none' };
  private current:
    | { exchange: Exchange; selection: Selection; startedAt: number; retry: boolean; settled: boolean }
    | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private retrySlot: Release | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  /** Stops the read of a body being buffered (the client left meanwhile). */
  private stopReading: (() => void) | undefined;
  /** Gives back the upstream's in-flight count (at the response's close, or once a tunnel is up). */
  private releaseInFlight: Release | undefined;
  private deadline = 0;
  /** The total deadline, and what set it, for its failure's details. */
  private limitMs = 0;
  private limitName = '';
  private over = false;
  private deadlinePassed = false;
  private readonly measure: AttemptMetrics;

  constructor(owner: AttemptsOwner, admitted: Admitted) {
    this.owner = owner;
    this.admitted = admitted;
    const { runtime, head, record } = owner;
    this.measure = new AttemptMetrics(runtime.metrics, admitted.upstream.name, head.method);
    this.via = head.versionMinor === 0 ? runtime.via10 : runtime.via11;
    this.path = upstreamPath(admitted.route, admitted.path);
    const headers = buildUpstreamHeaders(head.headers, {
      clientAddress: record.clientAddress,
      trusted: runtime.trust.has(record.clientAddress),
      protocol: owner.listener.protocol,
      host: admitted.authority,
      requestId: record.id,
      traceparent: record.trace.traceparent,
      keepTracestate: record.trace.continued,
      via: this.via,
    });
    const rules = admitted.route.requestHeaders;
    // Candor's own fields are out of the rules' reach (the loader refused them), so they stay last.
    this.headers = rules === undefined ? headers : applyHeaderRules(headers, rules, owner.templateVars());
    this.responseEdit = owner.responseEdit();
    const upstreamConfig = admitted.upstream.config;
    this.hashKey =
      upstreamConfig.balancer === 'hash'
        ? hashKeyOf(upstreamConfig.hashKey, { headers: owner.fields }, record.clientAddress)
        : undefined;
    // An upgrade asks the upstream for the switch in the fields this hop owns.
    if (head.upgrade)
      this.headers.push('connection', 'upgrade', 'upgrade', String(owner.fields.upgrade ?? ''));
  }

  start(): void {
    const { upstream } = this.admitted;
    const { exchange, head, fields } = this.owner;
    this.releaseInFlight = upstream.inFlight.acquire();
    exchange.response.onClose(this.releaseInFlight);
    upstream.retryBudget.earn();
    const { route } = this.admitted;
    const { limits } = this.owner.runtime.config;
    this.stopReading = prepareBody(
      exchange,
      {
        hasBody: hasBody(head),
        buffer: bufferWanted(route, upstream.config.retries, Number(fields['content-length'])),
        limits: {
          body: route.limits.body,
          idleTimeout: limits.bodyIdleTimeout,
          readTimeout: limits.bodyReadTimeout,
          minRate: limits.bodyMinRate,
        },
      },
      (body) => {
        this.stopReading = undefined;
        this.body = body;
        // A chunked body read whole goes out with its length, as nginx sends it.
        if (body.kind === 'buffer' && head.bodyLength === 'chunked')
          this.headers.push('content-length', String(body.bytes.length));
        this.attempt();
      },
      (failure) => {
        this.stopReading = undefined;
        if (failure.status === 499) this.owner.clientLeft();
        this.end(failure);
      },
    );
  }

  // ── one attempt ──────────────────────────────────────────────────────────────────

  private attempt(): void {
    if (this.over) return;
    // The total deadline is the upstream's: it starts with the first attempt, after a body
    // read for replay (a client slow to upload is the client's 408, not an upstream's 504).
    if (this.totalTimer === undefined) {
      // A gRPC client's own deadline holds when shorter: past it the client has given up anyway.
      const total = this.admitted.upstream.config.timeouts.total;
      const grpc = this.owner.grpcTimeoutMs;
      const byClient = grpc !== undefined && grpc < total;
      this.limitMs = byClient ? grpc : total;
      this.limitName = `${byClient ? 'grpc-timeout' : 'total timeout'} of ${this.limitMs} ms`;
      this.deadline = performance.now() + this.limitMs;
      this.totalTimer = setTimeout(this.onTotalTimeout, this.limitMs);
    }
    const { admitted } = this;
    const { record, runtime } = this.owner;
    const { upstream } = admitted;
    const now = performance.now();
    const selection = selectTarget(upstream, now, this.tried, this.hashKey);
    if (selection instanceof Failure) {
      this.measure.retryOver(selection.type);
      return this.end(selection);
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
      this.path,
      admitted.route.path,
    );
    const exchange = new Exchange(this.owner.exchange, record, upstream, target, this, {
      path: this.path,
      headers: traceparent === undefined ? this.headers : withTraceparent(this.headers, traceparent),
      body: this.body,
      bodyLimit: admitted.route.limits.body,
      bodyIdleTimeout: runtime.config.limits.bodyIdleTimeout,
      responseBuffer: admitted.route.limits.buffer,
      sendTimeout: runtime.config.limits.sendTimeout,
      proxyName: runtime.name,
      via: this.via,
      nextHop: this.owner.nextHop() as string,
      upgrade: this.owner.head.upgrade,
      editHeaders: this.responseEdit,
      metrics: runtime.metrics,
    });
    this.current = { exchange, selection, startedAt: now, retry, settled: false };
    exchange.start();
  }

  /** The attempt's outcome goes to passive health, the circuit, the retry budget, the metrics and the log. */
  private settle(failure: Failure | undefined, status: number | undefined, judged = true): void {
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
        judged,
        reused: current.exchange.connectionReused,
        releaseTargetProbe: selection.releaseProbe,
        circuitProbe: selection.circuitProbe,
        retrySlot: current.retry ? this.retrySlot : undefined,
      },
      now,
    );
    if (current.retry) this.measure.retryOver(failure?.type ?? 'response');
    if (failure !== undefined) this.measure.attemptFailed(target, failure.type, current.startedAt, now);
    else this.measure.responding(target, status as number, current.startedAt);
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
      bodyReplayable: this.body.kind !== 'stream' || failure.stage === 'not_sent',
      // The timer may fire a hair before performance.now() says the deadline is there.
      remaining: this.deadlinePassed ? 0 : this.deadline - performance.now(),
      noFreshTarget: !hasUntriedTarget(upstream, performance.now(), this.tried),
      reusedConnection: record.reusedConnection === true,
    });
    record.retrySkipped = verdict.skip;
    if (verdict.skip !== undefined) {
      this.owner.runtime.metrics.retrySkipped(upstream.name, verdict.skip);
      return this.end(failure);
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

  clientLeft(): void {
    this.owner.clientLeft();
  }

  abandoned(failure: Failure): void {
    // Every slot the attempt holds (probes, retry) comes back and the attempt is counted, once;
    // its outcome judges nobody. An answer the client cut short: its response is over.
    this.settle(failure, undefined, false);
    this.owner.failed(failure);
    this.measure.responseOver(failure.type);
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
    // unless the client broke it (one that did not read): that proves nothing of the target.
    const target = this.tried[this.tried.length - 1];
    // A client that broke the body (one that did not read) proves nothing of the target.
    if (target && failure.kind.shape !== 'client')
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
    this.owner.answer(failure);
  }

  /** No attempt follows this one. */
  private stopRetrying(): void {
    this.over = true;
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
      this.retrySlot?.();
    }
  }

  private finishTimers(): void {
    this.stopRetrying();
    clearTimeout(this.totalTimer);
  }

  private readonly onTotalTimeout = (): void => {
    const current = this.current;
    const reached = current?.exchange.reached ?? 'not_sent';
    // A body under way is cut (the head went downstream already): the attempt's own failure.
    if (current && reached === 'body_streaming')
      return current.exchange.cancel(
        new Failure('connection_read_timeout', `${this.limitName} reached while streaming the body`, {
          stage: reached,
        }),
      );
    const failure = new Failure('http_response_timeout', `no response head within the ${this.limitName}`, {
      stage: reached,
    });
    // The attempt's cancel comes back through attemptFailed, which answers with this failure
    // (no retry: the deadline has passed).
    this.deadlinePassed = true;
    if (current) return current.exchange.cancel(failure);
    // In backoff: the retry will not run.
    this.measure.retryOver(failure.type);
    this.finishTimers();
    this.owner.answer(failure);
  };

  /** The downstream response closed (answered, cut, or the client left): nothing more is owed. */
  clientClosed(): void {
    const current = this.current;
    const { response, record } = this.owner;
    if (current !== undefined && !response.finished && !record.upgraded) {
      const gone = new Failure('http_request_error', 'client closed the connection', {
        status: 499,
        stage: current.exchange.reached,
      });
      // The exchange reports back through abandoned(); one that had already ended settles here.
      current.exchange.cancel(gone);
      this.settle(gone, undefined, false);
    }
    // A retry still in backoff will not run: the client is gone.
    if (current === undefined) this.measure.retryOver('http_request_error');
    this.stopReading?.();
    this.finishTimers();
  }
}
