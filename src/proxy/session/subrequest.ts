import type { RouteConfig } from '../../core/config/types.ts';
import { classifyExchangeError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import type { Release } from '../../core/limits/count.ts';
import type {
  ConnectionFacts,
  Dispatcher,
  ExchangeController,
  ExchangeHandler,
  UpstreamHead,
} from '../../upstream/connections/exchange-contract.ts';
import type { PoolWaiter } from '../../upstream/connections/target-pool.ts';
import { type OutcomeSinks, reportOutcome } from '../../upstream/health/report-outcome.ts';
import type { Target, Upstream } from '../../upstream/targets/upstream.ts';
import { decideRetry } from '../decide/retry-policy.ts';
import { type Selection, selectTarget } from '../select/select-target.ts';

/** A bodiless GET the gateway makes for itself (an auth service's verdict on a request). */
export interface Subrequest {
  readonly path: string;
  /** Flat [name, value, …], lower-case names, no hop-by-hop fields. */
  readonly headers: readonly string[];
  /** Milliseconds for the whole call, every attempt and backoff included. */
  readonly deadline: number;
  /** The route it is made for (the retry rule reads its Idempotency-Key setting; a GET needs none). */
  readonly route: RouteConfig;
}

/** The answer's head: what a verdict is read from. Its body is read and dropped, bounded. */
export interface SubrequestAnswer {
  readonly status: number;
  readonly headers: readonly string[];
}

/** Bytes of an answer's body read to keep its connection; past them the connection is closed instead. */
const MAX_DRAINED = 64 * 1024;

/**
 * One GET through `upstream` as a client's request goes: the circuit and the balancer pick the
 * target (select-target.ts), the pool's connections and queue bound carry it, its timeouts are
 * the upstream's, every attempt's outcome is told to outlier detection, the circuit and the
 * retry budget (report-outcome.ts), and a failed attempt goes again by the upstream's retry rule
 * (retry-policy.ts) within `deadline`. Rejects with the classified Failure of the last attempt
 * (or the circuit's refusal, or the deadline's 504).
 */
export function sendSubrequest(
  sinks: OutcomeSinks,
  upstream: Upstream,
  request: Subrequest,
): Promise<SubrequestAnswer> {
  return new Promise((resolve, reject) => {
    new SubrequestRun(sinks, upstream, request, resolve, reject).attempt();
  });
}

class SubrequestRun {
  readonly #sinks: OutcomeSinks;
  readonly #upstream: Upstream;
  readonly #request: Subrequest;
  readonly #resolve: (answer: SubrequestAnswer) => void;
  readonly #reject: (failure: Failure) => void;
  readonly #tried: Target[] = [];
  readonly #endsAt: number;
  readonly #deadline: NodeJS.Timeout;
  readonly #releaseInFlight: Release;
  #current: SubrequestAttempt | undefined;
  #backoff: NodeJS.Timeout | undefined;
  #retrySlot: Release | undefined;
  #over = false;

  constructor(
    sinks: OutcomeSinks,
    upstream: Upstream,
    request: Subrequest,
    resolve: (answer: SubrequestAnswer) => void,
    reject: (failure: Failure) => void,
  ) {
    this.#sinks = sinks;
    this.#upstream = upstream;
    this.#request = request;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#endsAt = performance.now() + request.deadline;
    this.#deadline = setTimeout(this.#onDeadline, request.deadline);
    // The retry budget's base is the upstream's requests in flight: these are some.
    this.#releaseInFlight = upstream.inFlight.acquire();
    upstream.retryBudget.earn();
  }

  attempt(): void {
    if (this.#over) return;
    const selection = selectTarget(this.#upstream, performance.now(), this.#tried);
    if (selection instanceof Failure) {
      this.#retrySlot?.();
      return this.#fail(selection);
    }
    this.#tried.push(selection.target);
    this.#current = new SubrequestAttempt(this, this.#upstream, selection, this.#request);
    this.#current.start();
  }

  /** An attempt's end, told once: its outcome judged, then the answer or the next attempt. */
  settled(attempt: SubrequestAttempt, failure: Failure | undefined, head: UpstreamHead | undefined): void {
    const retry = this.#tried.length > 1;
    reportOutcome(
      this.#sinks,
      {
        upstream: this.#upstream,
        target: attempt.selection.target,
        failure,
        judged: true,
        reused: attempt.reused,
        releaseTargetProbe: attempt.selection.releaseProbe,
        circuitProbe: attempt.selection.circuitProbe,
        retrySlot: retry ? this.#retrySlot : undefined,
      },
      performance.now(),
    );
    this.#current = undefined;
    if (this.#over) return;
    if (head !== undefined) return this.#answer({ status: head.status, headers: head.headers });
    const verdict = decideRetry(failure as Failure, {
      req: { method: 'GET', headers: {} },
      route: this.#request.route,
      upstream: this.#upstream,
      attempts: this.#tried.length,
      bodyReplayable: true,
      remaining: this.#endsAt - performance.now(),
      noFreshTarget: false,
      reusedConnection: attempt.reused,
    });
    if (verdict.skip !== undefined) return this.#fail(failure as Failure);
    this.#retrySlot = verdict.charged
      ? this.#upstream.retryBudget.trySpend()
      : this.#upstream.retryBudget.track();
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.attempt();
    }, verdict.delay);
  }

  #answer(answer: SubrequestAnswer): void {
    this.#finish();
    this.#resolve(answer);
  }

  #fail(failure: Failure): void {
    this.#finish();
    this.#reject(failure);
  }

  #finish(): void {
    this.#over = true;
    clearTimeout(this.#deadline);
    if (this.#backoff !== undefined) {
      clearTimeout(this.#backoff);
      this.#retrySlot?.();
    }
    this.#releaseInFlight();
  }

  readonly #onDeadline = (): void => {
    const current = this.#current;
    const failure = new Failure(
      'http_response_timeout',
      `no answer within ${this.#request.deadline / 1000} s`,
      { stage: current?.stage ?? 'not_sent' },
    );
    // The attempt's end comes back through settled(), which finds the run over and answers nothing more.
    this.#fail(failure);
    current?.cancel(failure);
  };
}

/** One attempt: a connection from the target's pool (waiting in its queue, bounded), the GET, the head. */
class SubrequestAttempt implements PoolWaiter, ExchangeHandler {
  readonly selection: Selection;
  readonly #run: SubrequestRun;
  readonly #upstream: Upstream;
  readonly #request: Subrequest;
  #releaseActive: Release | undefined;
  #releasePending: Release | undefined;
  #queueTimer: NodeJS.Timeout | undefined;
  #controller: ExchangeController | undefined;
  stage: Stage = 'not_sent';
  reused = false;
  #settled = false;
  #drained = 0;
  #startedAt = 0;

  constructor(run: SubrequestRun, upstream: Upstream, selection: Selection, request: Subrequest) {
    this.#run = run;
    this.#upstream = upstream;
    this.selection = selection;
    this.#request = request;
  }

  start(): void {
    const { target } = this.selection;
    const { pool } = this.#upstream.config;
    this.#startedAt = performance.now();
    if (target.active.count >= pool.maxConnections)
      this.#queueTimer = setTimeout(this.#onQueueTimeout, pool.queueTimeout);
    this.#releaseActive = target.active.acquire();
    this.#releasePending = this.#upstream.pending.acquire();
    target.pool.acquire(this);
  }

  /** Ends the attempt with `failure` (the run's deadline passed): the connection closes, or the queue is left. */
  cancel(failure: Failure): void {
    if (this.#settled) return;
    if (this.#controller !== undefined) return this.#controller.abort(failure);
    this.selection.target.pool.cancel(this);
    this.#settle(failure, undefined);
  }

  onConnection(connection: Dispatcher): void {
    const { path, headers } = this.#request;
    connection.dispatch({ method: 'GET', path, headers, body: { kind: 'none' } }, this);
  }

  onConnectFailure(failure: Failure): void {
    this.#settle(failure, undefined);
  }

  onRequestStart(controller: ExchangeController, facts: ConnectionFacts): void {
    this.#controller = controller;
    this.reused = facts.reused;
    this.stage = 'sent';
    this.#stopWaiting();
  }

  onBodyChunk(): void {}
  onRequestSent(): void {}
  onInformational(): void {}

  onResponseStart(_controller: ExchangeController, head: UpstreamHead): void {
    this.stage = 'head_received';
    this.#settle(undefined, head);
  }

  /** The body says nothing the gateway reads: drained so the connection can be kept, up to a bound. */
  onResponseData(controller: ExchangeController, chunk: Buffer): void {
    this.#drained += chunk.length;
    if (this.#drained > MAX_DRAINED)
      controller.abort(
        new Failure('http_response_incomplete', 'an auth answer body past 64 KiB is not read', {
          stage: 'head_received',
        }),
      );
  }

  onResponseEnd(): void {
    this.#done();
  }

  onResponseError(_controller: ExchangeController | undefined, error: Failure): void {
    this.#done();
    if (this.#settled) return;
    this.#settle(classifyExchangeError(error, this.stage, performance.now() - this.#startedAt), undefined);
  }

  #settle(failure: Failure | undefined, head: UpstreamHead | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#stopWaiting();
    if (failure !== undefined) this.#done();
    this.#run.settled(this, failure, head);
  }

  /** The connection is no longer this attempt's: the target's count of requests on it goes down. */
  #done(): void {
    this.#stopWaiting();
    this.#releaseActive?.();
  }

  #stopWaiting(): void {
    this.#releasePending?.();
    clearTimeout(this.#queueTimer);
  }

  readonly #onQueueTimeout = (): void => {
    const { queueTimeout } = this.#upstream.config.pool;
    this.selection.target.pool.cancel(this);
    this.#settle(
      new Failure(
        'connection_limit_reached',
        `no connection to "${this.#upstream.name}" freed up within ${queueTimeout} ms`,
        { retryAfter: 1 },
      ),
      undefined,
    );
  };
}
