import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { type Release, releaseOnClose } from '../../core/limits/count.ts';
import { settleClientSpan, startClientSpan } from '../../observe/tracing/spans.ts';
import type { Circuit } from '../../upstream/breakers/circuit.ts';
import { isTargetFault, recordOutcome } from '../../upstream/health/outlier.ts';
import type { Target } from '../../upstream/targets/upstream.ts';
import { hasRequestBody } from '../accept/request-checks.ts';
import { backoffDelay, isStaleConnection, whyNotRetry } from '../decide/retry-policy.ts';
import { type AttemptBody, Exchange, type ExchangeOwner } from '../forward/exchange.ts';
import { applyHeaderRules, type HeaderEdit } from '../forward/header-rules.ts';
import { buildUpstreamHeaders, withTraceparent } from '../forward/request-headers.ts';
import { upstreamPath } from '../route/rewrite.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import { hasUntriedTarget, type Selection, selectTarget } from '../select/select-target.ts';
import type { Admitted } from './admit.ts';
import type { RequestSession } from './request-session.ts';

/**
 * Select → forward → decide, repeated while a retry is safe and worth it: each attempt
 * picks a target (another one when it can), runs one Exchange, and reports its outcome to
 * passive health and the circuit breaker. The route's total deadline spans every attempt.
 */
export class Attempts implements ExchangeOwner {
  private readonly session: RequestSession;
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
  /** Gives back the upstream's in-flight count (at the response's close, or once a tunnel is up). */
  private releaseInFlight: Release | undefined;
  private deadline = 0;
  private over = false;
  private deadlinePassed = false;
  /** The failure type a retry in backoff or under way was made for, until its result is counted. */
  private retryReason: string | undefined;
  /** The attempt whose response is going downstream: its duration is counted when the response ends. */
  private responding:
    | { readonly target: string; readonly status: number; readonly startedAt: number }
    | undefined;

  constructor(session: RequestSession, admitted: Admitted) {
    this.session = session;
    this.admitted = admitted;
    const { runtime, req, record } = session;
    this.via = req.httpVersionMinor === 0 ? runtime.via10 : runtime.via11;
    this.path = upstreamPath(admitted.route, admitted.path);
    const headers = buildUpstreamHeaders(req.rawHeaders, {
      clientAddress: record.clientAddress,
      trusted: runtime.trust.has(record.clientAddress),
      protocol: session.listener.protocol,
      host: admitted.authority,
      requestId: record.id,
      traceparent: record.trace.traceparent,
      keepTracestate: record.trace.continued,
      via: this.via,
    });
    const rules = admitted.route.requestHeaders;
    // Candor's own fields are out of the rules' reach (the loader refused them), so they stay last.
    this.headers = rules === undefined ? headers : applyHeaderRules(headers, rules, session.templateVars());
    this.responseEdit = session.responseEdit();
    const upstreamConfig = admitted.upstream.config;
    this.hashKey =
      upstreamConfig.balancer === 'hash'
        ? hashKeyOf(upstreamConfig.hashKey, req, record.clientAddress)
        : undefined;
    // An upgrade asks the upstream for the switch in the fields this hop owns.
    if (session.upgradeHead !== undefined)
      this.headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade ?? '');
  }

  start(): void {
    const { upstream } = this.admitted;
    const { req, res } = this.session;
    this.releaseInFlight = upstream.inFlight.acquire();
    releaseOnClose(res, this.releaseInFlight);
    upstream.retryBudget.earn();

    if (!hasRequestBody(req)) return this.attempt();
    // The client asked before sending its body: everything that could refuse it has now agreed.
    if (req.headers.expect !== undefined) res.writeContinue();
    const length = Number(req.headers['content-length']);
    const policy = upstream.config.retries;
    if (policy.attempts > 1 && Number.isFinite(length) && length <= policy.replayBody)
      return this.bufferBody();
    this.body = { kind: 'stream' };
    this.attempt();
  }

  // ── one attempt ──────────────────────────────────────────────────────────────────

  private attempt(): void {
    if (this.over) return;
    // The total deadline is the upstream's: it starts with the first attempt, after a body
    // read for replay (a client slow to upload is the client's 408, not an upstream's 504).
    if (this.totalTimer === undefined) {
      const total = this.admitted.upstream.config.timeouts.total;
      this.deadline = performance.now() + total;
      this.totalTimer = setTimeout(this.onTotalTimeout, total);
    }
    const { admitted } = this;
    const { record, runtime, req, res } = this.session;
    const { upstream } = admitted;
    const now = performance.now();
    const selection = selectTarget(upstream, now, this.tried, this.hashKey);
    if (selection instanceof Failure) {
      this.retryOver(selection.type);
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
      this.session.spans,
      upstream.name,
      target.config,
      this.path,
      admitted.route.path,
    );
    const exchange = new Exchange(req, res, record, upstream, target, this, {
      path: this.path,
      headers: traceparent === undefined ? this.headers : withTraceparent(this.headers, traceparent),
      body: this.body,
      bodyLimit: admitted.route.limits.body,
      bodyIdleTimeout: runtime.config.limits.bodyIdleTimeout,
      proxyName: runtime.name,
      via: this.via,
      nextHop: this.session.nextHop() as string,
      upgradeHead: this.session.upgradeHead,
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
    const { upstream } = this.admitted;
    const { selection } = current;
    const { metrics } = this.session.runtime;
    const target = selection.target.config.origin;
    const now = performance.now();
    selection.releaseProbe();
    const fault = isTargetFault(failure);
    // Only an answer or a fault of the upstream's says anything about it; a client that left
    // proves nothing (and must not reset the target's count of failures in a row).
    if (judged && recordOutcome(upstream, selection.target, failure, now)) {
      metrics.ejected(upstream.name, target);
      this.session.runtime.announce?.({
        candor: 'ejected',
        upstream: upstream.name,
        origin: target,
        forMs: selection.target.ejectedUntil - now,
        ejections: selection.target.ejections,
      });
    }
    const outcome = failure?.type ?? 'response';
    metrics.attempted(upstream.name, target, outcome, current.exchange.connectionReused);
    if (current.retry) this.retryOver(outcome);
    if (failure !== undefined) this.attemptMeasured(target, undefined, failure.type, current.startedAt, now);
    else this.responding = { target, status: status as number, startedAt: current.startedAt };
    if (judged && (fault || failure === undefined)) {
      const openUntil = upstream.circuit.openUntil;
      const wasClosed = isClosed(upstream.circuit);
      upstream.circuit.record(now, fault, selection.circuitProbe);
      // Opened (or opened again by a failed probe) by this outcome.
      if (upstream.circuit.openUntil > openUntil)
        this.session.runtime.announce?.({
          candor: 'circuit-opened',
          upstream: upstream.name,
          forMs: upstream.circuit.openUntil - now,
        });
      // Closed by this probe's success: the other workers need not wait for probes of their own.
      else if (!wasClosed && isClosed(upstream.circuit))
        this.session.runtime.announce?.({ candor: 'circuit-closed', upstream: upstream.name });
    } else if (selection.circuitProbe) upstream.circuit.releaseProbe();
    if (current.retry) this.retrySlot?.();
    settleClientSpan(this.session.spans, failure, status, current.exchange);
    this.session.record.tries.push({
      target: selection.target.config.origin,
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
    const { req, record } = this.session;
    const { upstream } = admitted;
    const why = whyNotRetry(failure, {
      req,
      route: admitted.route,
      upstream,
      attempts: this.tried.length,
      bodyReplayable: this.body.kind !== 'stream' || failure.stage === 'not_sent',
      // The timer may fire a hair before performance.now() says the deadline is there.
      remaining: this.deadlinePassed ? 0 : this.deadline - performance.now(),
      noFreshTarget: !hasUntriedTarget(upstream, performance.now(), this.tried),
      reusedConnection: record.reusedConnection === true,
    });
    const delay = backoffDelay(upstream.config.retries, this.tried.length);
    // A retry that could only start after the deadline would be answered by the deadline's
    // 504: the client gets the failure that happened instead.
    record.retrySkipped = why ?? (delay >= this.deadline - performance.now() ? 'deadline' : undefined);
    if (record.retrySkipped !== undefined) {
      this.session.runtime.metrics.retrySkipped(upstream.name, record.retrySkipped);
      return this.end(failure);
    }
    this.retryReason = failure.type;
    // A keep-alive race retry is not charged to the budget (see whyNotRetry), only counted in flight.
    const charged = !isStaleConnection(failure, record.reusedConnection === true);
    this.retrySlot = charged ? upstream.retryBudget.trySpend() : upstream.retryBudget.track();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.retryNow();
    }, delay);
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
    this.session.responded(status);
  }

  clientLeft(): void {
    this.session.clientLeft();
  }

  abandoned(failure: Failure): void {
    // Every slot the attempt holds (probes, retry) comes back; its outcome judges nobody.
    this.settle(failure, undefined, false);
    this.session.failed(failure);
    const current = this.current;
    if (this.responding !== undefined) return this.responseOver(failure.type);
    // Cut before its head came back: the attempt never settles (nothing is learnt of the
    // target), but it was made, and the metrics count it with the client's failure.
    if (current === undefined) return;
    const { upstream } = this.admitted;
    const target = current.selection.target.config.origin;
    this.session.runtime.metrics.attempted(
      upstream.name,
      target,
      failure.type,
      current.exchange.connectionReused,
    );
    if (current.retry) this.retryOver(failure.type);
    this.attemptMeasured(target, undefined, failure.type, current.startedAt, performance.now());
  }

  responseSpent(): void {
    this.session.responseSpent();
  }

  responseEnded(): void {
    this.finishTimers();
    this.responseOver('');
  }

  tunnelled(status: number): void {
    this.settle(undefined, status);
    // The tunnel's life is no request's duration: the attempt ends with the switch.
    this.responseOver('');
    // A tunnel lives as long as its two ends want: the total deadline is for HTTP exchanges,
    // and so is the retry budget's base of requests in flight.
    this.finishTimers();
    this.releaseInFlight?.();
    this.session.tunnelled(status);
  }

  bodyFailed(failure: Failure): void {
    this.finishTimers();
    const { admitted } = this;
    const { record } = this.session;
    this.session.failed(failure);
    record.stage = 'body_streaming';
    // The head counted as a success; the broken body is a fault of the target all the same.
    const target = this.tried[this.tried.length - 1];
    if (target) recordOutcome(admitted.upstream, target, failure, performance.now());
    const last = record.tries[record.tries.length - 1];
    if (last) record.tries[record.tries.length - 1] = { ...last, error: failure.type, stage: failure.stage };
    this.responseOver(failure.type);
  }

  // ── what the metrics count ───────────────────────────────────────────────────────

  /** A retry's result is known: the outcome of its attempt, or why it never ran. */
  private retryOver(result: string): void {
    if (this.retryReason === undefined) return;
    this.session.runtime.metrics.retried(this.admitted.upstream.name, this.retryReason, result);
    this.retryReason = undefined;
  }

  /** The response of the attempt that answered is over (whole, or cut with this failure type). */
  private responseOver(errorType: string): void {
    const responding = this.responding;
    if (responding === undefined) return;
    this.responding = undefined;
    this.attemptMeasured(
      responding.target,
      responding.status,
      errorType,
      responding.startedAt,
      performance.now(),
    );
  }

  private attemptMeasured(
    target: string,
    status: number | undefined,
    errorType: string,
    startedAt: number,
    now: number,
  ): void {
    this.session.runtime.metrics.attemptDuration(
      this.admitted.upstream.name,
      target,
      this.session.req.method ?? '',
      status,
      errorType,
      (now - startedAt) / 1000,
    );
  }

  // ── the request as a whole ───────────────────────────────────────────────────────

  /** No more attempts: answer with this failure. */
  private end(failure: Failure): void {
    if (this.over) return;
    this.finishTimers();
    this.session.record.stage = failure.stage;
    this.session.answer(failure);
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
    const limit = this.admitted.upstream.config.timeouts.total;
    const current = this.current;
    if (current && current.exchange.reached === 'body_streaming') {
      current.exchange.cancel(
        new Failure(
          'connection_read_timeout',
          `total timeout of ${limit} ms reached while streaming the body`,
          {
            stage: 'body_streaming',
          },
        ),
      );
      return;
    }
    const failure = new Failure(
      'http_response_timeout',
      `no response head within the total timeout of ${limit} ms`,
      {
        stage: current?.exchange.reached ?? 'not_sent',
      },
    );
    // The attempt's cancel comes back through attemptFailed, which answers with this failure
    // (no retry: the deadline has passed).
    this.deadlinePassed = true;
    if (current) current.exchange.cancel(failure);
    else {
      // In backoff: the retry will not run.
      this.retryOver(failure.type);
      this.finishTimers();
      this.session.answer(failure);
    }
  };

  /** The downstream response closed (answered, cut, or the client left): nothing more is owed. */
  clientClosed(): void {
    const current = this.current;
    const { res, record } = this.session;
    if (current !== undefined && !res.writableFinished && !record.upgraded) {
      const gone = new Failure('http_request_error', 'client closed the connection', {
        status: 499,
        stage: current.exchange.reached,
      });
      // The exchange reports back through abandoned(); one that had already ended settles here.
      current.exchange.cancel(gone);
      this.settle(gone, undefined, false);
    }
    // A retry still in backoff will not run: the client is gone.
    if (current === undefined) this.retryOver('http_request_error');
    this.finishTimers();
  }

  /** Reads a small body whole, so that it can be sent again on a retry. */
  private bufferBody(): void {
    const { req, runtime } = this.session;
    const chunks: Buffer[] = [];
    const idle = setTimeout(() => {
      cleanup();
      this.end(
        new Failure(
          'http_request_error',
          `request body stalled for ${runtime.config.limits.bodyIdleTimeout} ms`,
          {
            status: 408,
          },
        ),
      );
    }, runtime.config.limits.bodyIdleTimeout);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      idle.refresh();
    };
    const onEnd = () => {
      cleanup();
      this.body = { kind: 'buffer', bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) };
      this.attempt();
    };
    const onError = (err: NodeJS.ErrnoException) => {
      cleanup();
      const failure = classifyRequestBodyError(err, 'not_sent');
      if (failure.status === 499) this.session.clientLeft();
      this.end(failure);
    };
    const cleanup = () => {
      clearTimeout(idle);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  }
}

/** (A call, not a property test: record() changes the state between two of them.) */
function isClosed(circuit: Circuit): boolean {
  return circuit.state === 'closed';
}
