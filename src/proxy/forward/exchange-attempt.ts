import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import type { RouteTimeouts } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import { Count, noRelease, type Release, type Taken } from '../../core/limits/count.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type {
  ConnectionFacts,
  Dispatcher,
  ExchangeController,
  ExchangeHandler,
  ExchangeRequest,
  HeadSoFar,
  RequestBody,
  UpstreamHead,
} from '../../upstream/connections/exchange-contract.ts';
import { connectWaited, rodeOpening } from '../../upstream/connections/exchange-contract.ts';
import type { PoolWaiter } from '../../upstream/connections/target-pool.ts';
import { poolFull, type Target, type Upstream } from '../../upstream/targets/upstream.ts';
import { BodyRate } from './body-rate.ts';
import type { ExchangeOptions, QueuedBeforeSent } from './exchange-options.ts';
import type { ExchangeOwner } from './exchange-outcome.ts';

/**
 * One attempt's way to its target, the request's side of an exchange (exchange.ts holds the
 * answer's): the pool's queue and its bound, the connection that took the request, the request
 * going out (a streamed body's count, limit and rate), the attempt's end for a reason of its own
 * (cancel) or the client's (abandon), and the counts it holds until it finishes.
 */
export abstract class ExchangeAttempt implements PoolWaiter, ExchangeHandler, ExchangeRequest {
  protected readonly client: DownstreamExchange;
  protected readonly record: RequestRecord;
  protected readonly target: Target;
  protected readonly upstream: Upstream;
  protected readonly owner: ExchangeOwner;
  /** The request as every attempt sends it (its UpstreamRequest), read in place. */
  protected readonly options: ExchangeOptions;
  /** The fields this attempt sends (ExchangeRequest): the request's, with its own traceparent (an auth call's Host). */
  readonly headers: string[];
  /** next-hop for Proxy-Status on the upstream's own error responses, as the attempt began (undefined: errors.detail minimal). */
  protected readonly nextHop: string | undefined;
  /** The body as the connection reads it (ExchangeRequest): the one every attempt sends, or the client's stream. */
  readonly body: RequestBody;
  /** Its route's timeouts over its upstream's (RouteConfig.timeouts); undefined: the upstream's own. */
  protected readonly timeouts: RouteTimeouts | undefined;
  protected controller: ExchangeController | undefined;
  protected stage: Stage = 'not_sent';
  protected finished = false;
  /** A failure decided here (client gone, body too large, deadline) to report instead of the connection's. */
  protected localFailure: Failure | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  /** Set where it ends still queued (cancel, abandon): endedInQueue. */
  private endedQueued = false;
  /** Counted in upstream.pending until a connection takes it. */
  private waiting = false;
  private releasePending: Release = noRelease;
  /** Its place in the target's count of active requests (the balancer's load), from start() to finish(). */
  private active: Taken | undefined;
  /** The tunnel's count, once the upstream switched protocols (exchange.ts). */
  protected releaseTunnel: Release = noRelease;
  private readonly bodyUnannounced: boolean;
  /** Request body bytes this attempt has written. */
  protected bodySent = 0;
  /**
   * When a body streamed from the client had all gone out (monotonic ms); undefined for another
   * body, or before. What came before it was the client's pace: a canary's latency counts from it.
   */
  streamedWholeAt: number | undefined;
  /** Since when the upstream owes the answer's head: the attempt's start, or for a body streamed from the client, once it all went (undefined before). */
  headOwedSince(startedAt: number): number | undefined {
    return this.options.body.kind === 'stream' ? this.streamedWholeAt : startedAt;
  }
  /** The last bytes that moved went to the upstream (the client's), not from it: the upstream owes the next word. */
  protected clientSpokeLast = false;
  /** The streamed body's minimum rate, judged while it comes from the client (body-rate.ts). */
  private bodyRate: BodyRate | undefined;
  /** When the attempt started (monotonic ms): its time to first byte counts from here, queue and connect included. */
  private startedAt = 0;
  /** The connection the request went out on had carried one before (undefined until there is a connection). */
  private reused: boolean | undefined;
  /** It queued behind a full pool before a connection took it (undefined: it did not, or none took it yet). */
  queuedBeforeSent: QueuedBeforeSent | undefined;

  constructor(
    client: DownstreamExchange,
    record: RequestRecord,
    upstream: Upstream,
    target: Target,
    owner: ExchangeOwner,
    options: ExchangeOptions,
    headers: string[],
    timeouts?: RouteTimeouts,
  ) {
    this.client = client;
    this.record = record;
    this.upstream = upstream;
    this.target = target;
    this.owner = owner;
    this.options = options;
    this.headers = headers;
    this.nextHop = options.nextHop;
    this.timeouts = timeouts;
    this.bodyUnannounced = options.body.kind === 'stream' && client.head.bodyLength === 'chunked';
    const { body } = options;
    this.body =
      body.kind !== 'stream'
        ? body
        : client.body !== undefined
          ? {
              kind: 'stream',
              source: client.body,
              lengthAnnounced: !this.bodyUnannounced,
              kept: body.copy,
            }
          : { kind: 'none' };
  }

  // The rest of the request as the connection reads it (ExchangeRequest): every attempt's.
  get method(): string {
    return this.options.method;
  }
  get path(): string {
    return this.options.path;
  }
  get upgrade(): boolean {
    return this.options.upgrade;
  }
  get wholeAtLength(): boolean {
    return this.options.wholeAtLength;
  }

  // The answer's side of the connection's handler (exchange.ts): a failure, reported by the
  // connection or by the pool, is handled there too.
  abstract onInformational(head: UpstreamHead): void;
  abstract onResponseStart(controller: ExchangeController, head: UpstreamHead): void;
  abstract onResponseData(controller: ExchangeController, chunk: Buffer): void;
  abstract onResponseEnd(controller: ExchangeController, trailers: string[] | undefined): void;
  abstract onResponseError(controller: ExchangeController | undefined, error: Failure): void;

  /** The address of the connection the attempt went out on (undefined before it had one). */
  peerAddress(): string | undefined {
    return this.controller?.remoteAddress();
  }

  peerPort(): number | undefined {
    return this.controller?.remotePort();
  }

  /** How far this attempt got. */
  get reached(): Stage {
    return this.stage;
  }

  /**
   * What the request waits for while no connection has taken it: one the pool is opening for it
   * (the name lookup, the TCP connect, the TLS handshake), or, queued behind a full pool
   * (queueTimer set), one of the busy ones. Undefined once a connection took it.
   */
  get waitingFor(): 'connect' | 'busy' | undefined {
    if (!this.waiting) return undefined;
    return this.queueTimer === undefined ? 'connect' : 'busy';
  }

  /**
   * It ended queued behind a full pool's busy connections, never given one (its client left, its
   * queue wait or deadline ran out): nothing of it went upstream. Not one whose connect, begun
   * for it once it was first in the queue, failed: that one reached for the target.
   */
  get endedInQueue(): boolean {
    return this.endedQueued;
  }

  /** What of the request its connection still holds for the upstream to take (ExchangeController.requestWaiting). */
  get requestWaiting(): string | undefined {
    return this.controller?.requestWaiting();
  }

  /** What of the response head its connection had read (ExchangeController.headSoFar). */
  get headSoFar(): HeadSoFar | undefined {
    return this.controller?.headSoFar();
  }

  /**
   * Whether the attempt went out on a pooled connection that had carried a request before
   * (undefined: it never had a connection). The attempt loop holds this fact for the request.
   */
  get connectionReused(): boolean | undefined {
    return this.reused;
  }

  /** Takes no pooled connection that has carried a request (PoolWaiter): a retry after the keep-alive race. */
  newConnection = false;

  /** Asks the pool for a connection, at `now` (performance.now(): the attempt's start, read once by the attempt loop); `newConnection`: see its field. */
  start(now = performance.now(), newConnection = false): void {
    const { upstream } = this;
    this.newConnection = newConnection;
    this.startedAt = now;
    // The line's connect_ms is the attempt its target names: an earlier attempt's connect is not
    // this one's, which may open none (refused, its wait in the queue run out). `tries` has each.
    this.record.connectMs = undefined;
    // Beyond the pool's connections the attempt waits in the pool's queue: bounded in time here.
    // Bound, not an arrow: an arrow here made every start() allocate the context it captures.
    if (poolFull(this.target))
      this.queueTimer = setTimeout(this.onQueueTimeout.bind(this), upstream.config.pool.queueTimeout);
    this.active = this.target.active.take();
    this.waiting = true;
    this.target.pool.acquire(this, now);
    // Counted as pending only when no connection took it at once (an idle one, the usual case,
    // is handed over inside acquire(): a count taken and given back for nothing).
    if (this.waiting) this.releasePending = upstream.pending.acquire();
  }

  // ── the pool's side ──────────────────────────────────────────────────────────────

  /** Dialled with its route's connect bound, else its upstream's in its snapshot (a reload may have changed the pool's since). */
  get connectTimeout(): number {
    return this.timeouts?.connect ?? this.upstream.config.timeouts.connect;
  }

  onConnection(connection: Dispatcher): void {
    const { deadline } = this.options;
    // Its route's clocks, else its upstream's in its snapshot, not the pool's (a reload may have
    // changed them since): a request in flight finishes on the snapshot it began with.
    const clocks = this.timeouts?.exchange ?? this.upstream.clocks;
    // Without a deadline to tell, the attempt is the request as the connection reads it (no copy).
    if (deadline === undefined) return connection.dispatch(this, this, clocks);
    connection.dispatch(
      {
        method: this.method,
        path: this.path,
        // What is left of the deadline now, the time this attempt waited for its connection spent.
        headers: deadline.toldIn(this.headers),
        body: this.body,
        upgrade: this.upgrade,
        wholeAtLength: this.wholeAtLength,
      },
      this,
      clocks,
    );
  }

  /**
   * The pool found itself full while this attempt waited on a connection it was opening (an
   * HTTP/2 upstream's SETTINGS taking fewer streams than counted on): its queue wait starts,
   * bounded from the attempt's start, as pool.queue_timeout says of the wait for a connection.
   */
  queued(): void {
    if (!this.waiting || this.queueTimer !== undefined) return;
    const left = this.upstream.config.pool.queueTimeout - (performance.now() - this.startedAt);
    this.queueTimer = setTimeout(this.onQueueTimeout.bind(this), Math.max(0, left));
  }

  onConnectFailure(failure: Failure): void {
    this.onResponseError(undefined, failure);
  }

  onRequestStart(controller: ExchangeController, facts: ConnectionFacts): void {
    this.controller = controller;
    // The connect this request waited through (exchange-contract.ts): never more than its wait.
    const rode = rodeOpening(facts, this.startedAt);
    this.reused = facts.reused && !rode;
    const connectMs = connectWaited(facts, this.startedAt, rode);
    this.record.connectMs = connectMs;
    if (!facts.reused)
      this.options.metrics.connected(this.upstream.name, this.target.config.origin, facts.connectMs / 1000);
    this.stage = 'sent';
    this.queuedBeforeSent = this.stopWaiting(connectMs);
    const { body, bodyComplete } = this.client;
    if (this.options.body.kind === 'stream' && body !== undefined && !bodyComplete) this.judgeRate(body);
  }

  /**
   * Too slow a client is cut with its own 408; the upstream's connection closes with it (the body
   * it reads stops short). Paused by the pump, the body waits on the upstream, not the client. A
   * method apart: its closures in onRequestStart() made every request allocate their context.
   */
  private judgeRate(body: NonNullable<DownstreamExchange['body']>): void {
    const { bodyReadTimeout, bodyMinRate } = this.options.bodyRate;
    if (bodyMinRate > 0)
      this.bodyRate = new BodyRate(
        { readTimeout: bodyReadTimeout, minRate: bodyMinRate },
        (slow) => this.cancel(slow.at(this.stage)),
        () => body.isPaused(),
      );
  }

  // ── the client's side ────────────────────────────────────────────────────────────

  private onQueueTimeout(): void {
    const { queueTimeout } = this.upstream.config.pool;
    this.cancel(
      new Failure(
        'connection_limit_reached',
        `no connection to "${this.upstream.name}" freed up within ${queueTimeout} ms`,
        { retryAfter: 1 },
      ),
    );
  }

  /**
   * Counts the request body as it goes out and enforces the route's limit on bodies whose
   * length was not announced: the chunk that would cross it is never sent, so the upstream
   * never sees a complete body.
   */
  onBodyChunk(chunk: Buffer): void {
    // A retry sends the same body again: the log counts the most any attempt sent, not the sum.
    this.bodySent += chunk.length;
    if (this.options.body.kind === 'stream') this.options.body.copy?.keep(chunk);
    this.clientSpokeLast = true;
    this.bodyRate?.received(chunk.length);
    if (this.bodyUnannounced && this.bodySent > this.options.bodyLimit) {
      this.cancel(
        new Failure(
          'http_request_error',
          `request body larger than the route's limit of ${this.options.bodyLimit} bytes`,
          { status: 413, stage: this.stage },
        ),
      );
    }
  }

  /**
   * The whole body went out: its rate is no longer judged. A client that leaves its body silent
   * is the accept side's to judge (limits.body_idle_timeout): its body errors, and the
   * connection reports that error.
   */
  onRequestSent(): void {
    this.bodyRate?.stop();
    if (this.options.body.kind === 'stream') this.streamedWholeAt = performance.now();
  }

  /**
   * Ends the attempt for a reason decided outside the connection (deadline, limits); the
   * connection reports back through onResponseError with the reason given here.
   */
  cancel(failure: Failure): void {
    if (this.finished || this.localFailure) return;
    this.localFailure = failure;
    if (this.controller) return this.controller.abort(failure);
    // Still waiting for a connection: leave the queue and answer now.
    this.endedQueued = this.waitingFor === 'busy';
    this.target.pool.cancel(this);
    this.finish();
    this.owner.settled({ kind: 'failed', failure: failure.at('not_sent'), headRefused: false });
  }

  /**
   * The client left: the attempt ends here and its connection closes, and nothing is reported
   * to the owner, which asked. Returns the attempt's failure for the log (undefined: it was over).
   */
  abandon(): Failure | undefined {
    if (this.finished) return undefined;
    const gone = new Failure('client_closed', this.client.answer.leftHow, { stage: this.stage });
    const controller = this.controller;
    this.endedQueued = controller === undefined && this.waitingFor === 'busy';
    // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
    this.finish();
    if (controller !== undefined) controller.abort(gone);
    else this.target.pool.cancel(this);
    return gone;
  }

  /** No longer waiting for a connection: one took the request (`connectMs`: the time it took to open), or it ended. */
  private stopWaiting(connectMs = 0): QueuedBeforeSent | undefined {
    if (!this.waiting) return undefined;
    this.waiting = false;
    this.releasePending();
    if (this.queueTimer === undefined) return undefined;
    clearTimeout(this.queueTimer);
    // It queued behind a full pool: the log names that wait apart from the upstream's time.
    const sentAt = performance.now();
    const queuedMs = Math.max(0, sentAt - this.startedAt - connectMs);
    this.record.queuedMs = (this.record.queuedMs ?? 0) + queuedMs;
    const headMs = (this.timeouts?.exchange ?? this.upstream.clocks).head; // as its connection runs it
    return { queuedMs, sentAt, headMs };
  }

  /**
   * The upstream's first byte came (the answer's head): its time counted from the attempt's start.
   * No attempt follows a head: what a streamed body kept for one goes (a long call holds none).
   */
  protected firstByte(now = performance.now()): void {
    const seconds = (now - this.startedAt) / 1000;
    this.options.metrics.firstByte(this.upstream.name, this.target.config.origin, seconds);
    if (this.options.body.kind === 'stream') this.options.body.copy?.letGo();
  }

  protected finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopWaiting();
    this.bodyRate?.stop();
    this.active = Count.giveBack(this.active);
    this.releaseTunnel();
  }
}
