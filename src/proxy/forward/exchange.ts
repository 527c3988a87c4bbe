import type { Socket } from 'node:net';
import { classifyExchangeError, isReset } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { receivedStatusProxyStatus } from '../../core/failure/proxy-status.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import { REASONS } from '../../core/failure/wording.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import type { DownstreamExchange, ResponseSink } from '../../core/net/downstream.ts';
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
import type { PoolWaiter } from '../../upstream/connections/target-pool.ts';
import { poolFull, type Target, type Upstream } from '../../upstream/targets/upstream.ts';
import type { HeadOutcome } from '../stages/route-stages.ts';
import type { BodyCopy } from '../stages/stage.ts';
import { BodyRate } from './body-rate.ts';
import { ClientPace, type PacedExchange } from './client-pace.ts';
import type { ExchangeOptions } from './exchange-options.ts';
import { MAX_INTERIM } from './exchange-options.ts';
import type { ExchangeOwner } from './exchange-outcome.ts';
import { GrpcRelay } from './grpc-relay.ts';
import { HeldAnswer, spentController } from './held-answer.ts';
import { withGrpcTimeout } from './request-headers.ts';
import { buildDownstreamHead } from './response-headers.ts';
import { filterTrailers } from './trailer-fields.ts';
import { openTunnel } from './tunnel.ts';

/**
 * The forward phase: one attempt against one target, on a connection from the target's
 * pool. Bodies stream both ways with backpressure; every failure is classified once, with
 * the stage it happened at, and handed to the owner (before the head went downstream) or
 * turned into an aborted downstream transfer (after).
 */
export class Exchange implements ExchangeHandler, PoolWaiter, PacedExchange {
  private readonly client: DownstreamExchange;
  private readonly sink: ResponseSink;
  private readonly record: RequestRecord;
  private readonly target: Target;
  private readonly upstream: Upstream;
  private readonly owner: ExchangeOwner;
  private readonly options: ExchangeOptions;
  private controller: ExchangeController | undefined;
  private stage: Stage = 'not_sent';
  private finished = false;
  /** A failure decided here (client gone, body too large, deadline) to report instead of the connection's. */
  private localFailure: Failure | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  /** Counted in upstream.pending until a connection takes it. */
  private waiting = false;
  private releasePending: Release = noRelease;
  private releaseActive: Release = noRelease;
  private releaseTunnel: Release = noRelease;
  private readonly bodyUnannounced: boolean;
  /** Request body bytes this attempt has written. */
  private bodySent = 0;
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
  private clientSpokeLast = false;
  /** The streamed body's minimum rate, judged while it comes from the client (body-rate.ts). */
  private bodyRate: BodyRate | undefined;
  /** Interim answers relayed so far, and their fields' bytes (bounded by MAX_INTERIM). */
  private interimCount = 0;
  private interimBytes = 0;
  /** When the attempt started (monotonic ms): its time to first byte counts from here, queue and connect included. */
  private startedAt = 0;
  /** The connection the request went out on had carried one before (undefined until there is a connection). */
  private reused: boolean | undefined;
  /** The downstream response can carry the upstream's trailers (set with the head). */
  private trailersAllowed = false;
  /** The sink refused the upstream's head: the attempt's failure says so (ExchangeOutcome). */
  private headRefused = false;
  /** The body's copy a route stage keeps (bounded, kept only when the body ends whole). */
  private copy: BodyCopy | undefined;
  /** The answer, held while a route stage decides on its head after waiting (held-answer.ts). */
  private held: HeldAnswer | undefined;
  /** The client's pace, once a write to it was left waiting (client-pace.ts): the buffer, the spool, the drain. */
  private pace: ClientPace | undefined;
  /** A gRPC call's answer as it passes (grpc-relay.ts): the status its client reads, how a cut ends. */
  private grpc: GrpcRelay | undefined;

  constructor(
    client: DownstreamExchange,
    record: RequestRecord,
    upstream: Upstream,
    target: Target,
    owner: ExchangeOwner,
    options: ExchangeOptions,
  ) {
    this.client = client;
    // The one check a route without a stage around the body pays (compression has one).
    this.sink = options.stages?.wrapsSinks
      ? options.stages.wrapSink(client.response, client.budget)
      : client.response;
    this.record = record;
    this.upstream = upstream;
    this.target = target;
    this.owner = owner;
    this.options = options;
    this.bodyUnannounced = options.body.kind === 'stream' && client.head.bodyLength === 'chunked';
  }

  /** This hop's Via entry on an answer: the version the upstream answered in, whatever the client's (RFC 9110 §7.6.3). */
  private responseVia(head: UpstreamHead): string {
    const { vias } = this.options;
    return head.version === '1.1' ? vias.via11 : head.version === '2' ? vias.via2 : vias.via10;
  }

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

  /** What of the request its connection still holds for the upstream to take (ExchangeController.requestWaiting). */
  get requestWaiting(): string | undefined {
    return this.controller?.requestWaiting();
  }

  /** What of the response head its connection had read (ExchangeController.headSoFar). */
  get headSoFar(): HeadSoFar | undefined {
    return this.controller?.headSoFar();
  }

  /**
   * The upstream is paused until the client takes what is held for it (past the buffer, with no
   * spool or past its bounds): what the response waits for now is the client, not the upstream.
   */
  get waitsForReader(): boolean {
    return this.pace?.waitsForReader === true;
  }

  /**
   * Whether the attempt went out on a pooled connection that had carried a request before
   * (undefined: it never had a connection). The attempt loop holds this fact for the request.
   */
  get connectionReused(): boolean | undefined {
    return this.reused;
  }

  start(): void {
    const { upstream } = this;
    this.startedAt = performance.now();
    // Beyond the pool's connections the attempt waits in the pool's queue: bounded in time here.
    if (poolFull(this.target)) {
      this.queueTimer = setTimeout(() => this.onQueueTimeout(), upstream.config.pool.queueTimeout);
    }
    this.releaseActive = this.target.active.acquire();
    this.waiting = true;
    this.target.pool.acquire(this);
    // Counted as pending only when no connection took it at once (an idle one, the usual case,
    // is handed over inside acquire(): a count taken and given back for nothing).
    if (this.waiting) this.releasePending = upstream.pending.acquire();
  }

  // ── the pool's side ──────────────────────────────────────────────────────────────

  onConnection(connection: Dispatcher): void {
    const { client, options } = this;
    const { deadline } = options;
    // Without a streamed body or a deadline to tell, the options are the request as the
    // connection reads it (no copy).
    if (options.body.kind !== 'stream' && deadline === undefined)
      return connection.dispatch(options as ExchangeRequest, this);
    const body: RequestBody =
      options.body.kind !== 'stream'
        ? options.body
        : client.body !== undefined
          ? { kind: 'stream', source: client.body, lengthAnnounced: !this.bodyUnannounced }
          : { kind: 'none' };
    connection.dispatch(
      {
        method: options.method,
        path: options.path,
        // What is left of the deadline now, the time this attempt waited for its connection spent.
        headers:
          deadline === undefined ? options.headers : withGrpcTimeout(options.headers, deadline.grpcTimeout()),
        body,
        upgrade: options.upgrade,
        wholeAtLength: options.wholeAtLength,
      },
      this,
    );
  }

  onConnectFailure(failure: Failure): void {
    this.onResponseError(undefined, failure);
  }

  // ── the connection's side ────────────────────────────────────────────────────────

  onRequestStart(controller: ExchangeController, facts: ConnectionFacts): void {
    this.controller = controller;
    this.record.connectMs = facts.connectMs;
    this.reused = facts.reused;
    if (!facts.reused)
      this.options.metrics.connected(this.upstream.name, this.target.config.origin, facts.connectMs / 1000);
    this.stage = 'sent';
    this.stopWaiting();
    const { body, bodyComplete } = this.client;
    if (this.options.body.kind === 'stream' && body !== undefined && !bodyComplete) {
      const { bodyReadTimeout, bodyMinRate } = this.options.bodyRate;
      // Too slow a client is cut with its own 408; the upstream's connection closes with it (the
      // body it reads stops short). Paused by the pump, the body waits on the upstream, not the client.
      // A gRPC call's messages come at the pace of its conversation (a chat, a feed of events):
      // no rate is asked of them; body_idle_timeout still bounds a silence (nginx's grpc_pass alike).
      if (bodyMinRate > 0 && !this.record.grpc)
        this.bodyRate = new BodyRate(
          { readTimeout: bodyReadTimeout, minRate: bodyMinRate },
          (slow) => this.cancel(slow.at(this.stage)),
          () => body.isPaused(),
        );
    }
  }

  onResponseStart(controller: ExchangeController, response: UpstreamHead): void {
    const { record } = this;
    const { head: request } = this.client;
    const statusCode = response.status;
    this.stage = 'head_received';
    record.ttfbMs = record.elapsed();
    this.firstByte();
    // Trailers reach an HTTP/1.1 client only in a chunked response with a body (a Trailer field
    // announcing them in any other response is a lie); HTTP/2 frames them itself, after any body
    // or none (gRPC's status lives there).
    this.trailersAllowed =
      request.method !== 'HEAD' &&
      statusCode !== 204 &&
      statusCode !== 304 &&
      (request.protocol === 'HTTP/2' ||
        (request.versionMinor === 1 && response.hasBody && response.bodyLength === undefined));
    if (record.grpc) this.grpc = new GrpcRelay(statusCode, response.headers, record);
    const head = buildDownstreamHead(
      response.headers,
      record.id,
      this.responseVia(response),
      statusCode >= 500
        ? receivedStatusProxyStatus(this.options.proxyName, statusCode, this.options.nextHop)
        : undefined,
      this.trailersAllowed,
    );
    // The route's stages meet the upstream's answer (its fields, in place): relayed, asked again, or a stage's bug.
    const stages = this.options.stages;
    if (stages?.readsUpstreamHeads) {
      const verdict = stages.onUpstreamHead({
        status: statusCode,
        headers: head,
        received: response.headers,
      });
      if (verdict instanceof Promise) return this.holdFor(verdict, controller, response, head);
      if (this.stagesTook(controller, statusCode, verdict)) return;
    }
    this.relayHead(controller, response, head);
  }

  /** The upstream's head goes downstream (the route's stages had their say): the body follows. */
  private relayHead(controller: ExchangeController, response: UpstreamHead, head: string[]): void {
    const { sink } = this;
    const statusCode = response.status;
    // The head, the body and the end of a small response arrive in one read: held until the
    // end of the turn (turn-end.ts), they leave in one write, with the turn's other responses.
    sink.holdUntilTurnEnd();
    try {
      const headers = this.options.editHeaders?.(head) ?? head;
      // An answer received over HTTP/2 has no reason phrase: an HTTP/1.1 client gets the standard one.
      sink.sendHead(statusCode, response.reason || (REASONS[statusCode] ?? ''), headers);
    } catch (err) {
      // The sink refuses a head its client cannot take (an HTTP/2 client's header list size): the
      // gateway's answer, smaller, says so instead.
      if (err instanceof Failure) return controller.abort(err);
      // The sink refuses a field the parser let through (a defence in depth: it should not happen).
      this.headRefused = true;
      controller.abort(
        new Failure('http_protocol_error', `invalid response header: ${(err as Error).message}`, {
          stage: 'head_received',
          cause: err,
        }),
      );
      return;
    }
    this.stage = 'body_streaming';
    this.grpc?.headSent();
    const { stages } = this.options;
    if (stages?.relays) {
      const { reason, headers: fields, version } = response;
      this.copy = stages.onRelayed({ status: statusCode, reason, fields, version });
    }
    this.owner.settled({ kind: 'responded', status: statusCode });
  }

  /**
   * The route's stages on the upstream's head (their edits made in place): true when the answer is
   * not relayed, because a stage answers in its place (a stored answer for its 5xx, or the one its
   * 304 confirmed: the attempt is over with the upstream's status, and the stage's answer goes out),
   * asked the upstream again (the attempt loop asks at once, without the fields it named: every
   * attempt from now on) or a stage's bug is the request's 500. A request whose body streamed
   * from the client cannot go again: its answer is relayed.
   */
  private stagesTook(controller: ExchangeController, status: number, verdict: HeadOutcome): boolean {
    if (verdict === undefined) return false;
    if ('answer' in verdict) {
      // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
      this.finish();
      controller.abort(
        new Failure('http_response_incomplete', "a route stage answered in the upstream's place", {
          stage: 'head_received',
        }),
      );
      this.owner.settled({ kind: 'answered', status, answer: verdict.answer });
      return true;
    }
    if (!(verdict instanceof Failure) && this.options.body.kind === 'stream') return false;
    // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
    this.finish();
    if (verdict instanceof Failure) {
      const failure = verdict.at('head_received');
      controller.abort(failure);
      this.owner.settled({ kind: 'failed', failure, headRefused: false });
      return true;
    }
    controller.abort(
      new Failure('http_response_incomplete', 'a route stage asked the upstream again', {
        stage: 'head_received',
      }),
    );
    this.owner.settled({ kind: 'again', status, without: verdict.askAgainWithout });
    return true;
  }

  /**
   * A stage decides on the head after waiting (held-answer.ts): the answer is held meanwhile, then
   * relayed with what came of its body (or not: asked again, a stage's failure), unless the
   * exchange ended first (the upstream failed, the client left, the deadline passed: told already).
   */
  private holdFor(
    verdict: Promise<HeadOutcome>,
    controller: ExchangeController,
    response: UpstreamHead,
    head: string[],
  ): void {
    const held = new HeldAnswer();
    this.held = held;
    controller.pause();
    verdict
      .then((decided) => this.decidedHeld(decided, held, response, head))
      .catch((err: unknown) =>
        // A bug of the gateway's past the stages (theirs are failures in `decided`): this exchange's 500, not the process's end.
        this.cancel(
          new Failure('proxy_internal_error', 'internal error while relaying a held answer', {
            stage: this.stage,
            cause: err,
          }),
        ),
      );
  }

  /** The stages decided on a held answer: relayed with what was kept of it, unless it was not (asked again, a failure) or the exchange ended meanwhile. */
  private decidedHeld(decided: HeadOutcome, held: HeldAnswer, response: UpstreamHead, head: string[]): void {
    this.held = undefined;
    if (this.finished) return;
    // The connection's own, or the spent one's if the answer ended meanwhile.
    const now = this.controller as ExchangeController;
    if (this.stagesTook(now, response.status, decided)) return;
    this.relayHead(now, response, head);
    if (this.finished) return;
    // Before the kept chunks go: a pause the client's pace asks while they do stands.
    if (!held.ended) now.resume();
    for (const chunk of held.chunks) {
      if (this.finished) return;
      this.onResponseData(now, chunk);
    }
    if (held.ended && !this.finished) this.onResponseEnd(now, held.trailers);
  }

  onResponseData(controller: ExchangeController, chunk: Buffer): void {
    if (this.held !== undefined) {
      this.held.chunks.push(chunk);
      return;
    }
    this.record.bytesOut += chunk.length;
    this.clientSpokeLast = false;
    this.copy?.add(chunk);
    this.grpc?.feed(chunk);
    const spool = this.pace?.spool;
    if (spool !== undefined) {
      if (!spool.add(chunk)) controller.pause();
      return;
    }
    if (!this.relay(chunk))
      (this.pace as ClientPace).fellBehind(controller, this.options.spool, this.options.metrics);
  }

  /**
   * Writes a piece of the body to the client: false when the client is not keeping up and holds
   * the buffer's worth (client-pace.ts, made here the first time a write is left waiting).
   */
  private relay(chunk: Buffer): boolean {
    const pace = this.pace;
    if (pace !== undefined) return pace.send(chunk);
    if (this.sink.write(chunk)) return true;
    const { responseBuffer, readerMemory } = this.options;
    this.pace = new ClientPace(
      this,
      this.sink,
      this.client.budget,
      readerMemory,
      responseBuffer,
      this.record,
    );
    return this.pace.held();
  }

  /** The client took what was held (PacedExchange): the upstream may send again. */
  resumeUpstream(): void {
    // A response that ended in the read that paused it: its HTTP/1.1 connection may carry the
    // next exchange by now, whose own client's pause a resume from here would undo.
    if (this.finished) return;
    this.controller?.resume();
  }

  /** The client cannot take the response whole (PacedExchange): its send deadline, the spool's disk. */
  cutForClient(failure: Failure): void {
    // Still reading from the upstream: the exchange ends through the connection, which closes.
    if (!this.finished) return this.cancel(failure);
    // The response was whole from the upstream (its connection is back in the pool); only the
    // client's copy waits.
    this.owner.bodyOver(failure);
    this.sink.abort();
  }

  onResponseEnd(controller: ExchangeController, trailers: string[] | undefined): void {
    const held = this.held;
    if (held !== undefined) {
      held.ended = true;
      held.trailers = trailers;
      this.controller = spentController(controller, (failure) => this.onResponseError(undefined, failure));
      return;
    }
    const kept = trailers !== undefined && this.trailersAllowed ? filterTrailers(trailers) : undefined;
    this.grpc?.ended(trailers, kept, this.sink.headHeld === true, this.record);
    this.copy?.end();
    // The upstream sent everything: its connection goes back to the pool now (finish), and a
    // spooled rest reaches the client from the file.
    const spool = this.pace?.spool;
    if (spool === undefined) this.sink.end(kept);
    else spool.end(() => this.sink.end(kept));
    this.finish();
    this.owner.bodyOver(undefined);
  }

  onUpgrade(head: UpstreamHead, upstream: Socket, rest: Buffer): void {
    const { record, sink } = this;
    this.stage = 'body_streaming';
    record.ttfbMs = record.elapsed();
    this.firstByte();
    // The 101 passes through the one head builder like every other head; the switch itself
    // (Connection: upgrade and the upstream's Upgrade) is this hop's to say.
    const headers = buildDownstreamHead(head.headers, record.id, this.responseVia(head), undefined, false);
    headers.push('connection', 'upgrade', 'upgrade', upgradeOf(head.headers));
    const switched = sink.closed ? undefined : sink.switchProtocols(head.reason, headers);
    if (switched === undefined) {
      upstream.destroy();
      this.finish();
      this.owner.settled({
        kind: 'left',
        failure: new Failure('client_closed', 'client closed the connection before the switch', {
          stage: 'head_received',
        }),
      });
      return;
    }
    this.owner.settled({ kind: 'tunnelled', status: 101 });
    this.releaseTunnel = this.target.tunnels.acquire();
    openTunnel(switched.socket, upstream, {
      fromUpstream: rest,
      fromClient: switched.rest,
      fromClientBytes: (n) => {
        record.tunnelBytesIn += n;
      },
      fromUpstreamBytes: (n) => {
        record.bytesOut += n;
      },
      upstreamReset: () => {
        record.upstreamReset = true;
      },
      idleTimeout: this.upstream.config.timeouts.tunnelIdle,
      closed: () => this.finish(),
    });
  }

  onResponseError(_controller: ExchangeController | undefined, error: Failure): void {
    if (this.finished) return;
    // A broken request body comes as the connection reported it (its own error, classified
    // where it broke): placed here at the stage the attempt reached, like every other failure.
    let failure = this.localFailure ?? classifyExchangeError(error, this.stage, this.record.elapsed());
    // Never processed (a TLS alert refusing the handshake), but a streamed body was taken from
    // the client for it: the request cannot go again as it was.
    if (failure.unprocessed && this.options.body.kind === 'stream' && this.bodySent > 0)
      failure = failure.spent(this.stage);
    if (isReset(error.cause)) this.record.upstreamReset = true;
    // The client went away (mid-upload, or mid-body after the head): nobody is left to answer.
    if (failure.type === 'client_closed') {
      this.finish();
      if (this.stage === 'body_streaming') return this.owner.bodyOver(failure);
      return this.owner.settled({ kind: 'left', failure });
    }
    if (this.stage === 'body_streaming') return this.failAfterHead(this.turnOf(failure));
    this.finish();
    this.owner.settled({ kind: 'failed', failure, headRefused: this.headRefused });
  }

  /**
   * A gRPC call's response that stalled (timeouts.read, or the total deadline) after the upstream
   * had answered the client's last message, with the client's side still open: in a bidirectional
   * conversation the upstream waits for the client's next message, so its silence says nothing
   * of the target (a chat left idle would otherwise eject a healthy one). Still cut, and told so.
   */
  private turnOf(failure: Failure): Failure {
    if (failure.type !== 'connection_read_timeout' || !this.record.grpc) return failure;
    if (this.clientSpokeLast || this.client.bodyComplete) return failure;
    return new Failure(
      failure.type,
      `${failure.details}; the upstream had answered the client's last message, and the client had not ended its side (its turn to speak)`,
      { stage: failure.stage, cause: failure.cause, clientsTurn: true },
    );
  }

  // ── the client's side ────────────────────────────────────────────────────────────

  private onQueueTimeout(): void {
    const { queueTimeout } = this.upstream.config.pool;
    this.cancel(
      new Failure(
        'connection_limit_reached',
        `no connection to "${this.upstream.name}" freed up within ${queueTimeout} ms`,
        {
          retryAfter: 1,
        },
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
    this.target.pool.cancel(this);
    this.finish();
    this.owner.settled({ kind: 'failed', failure: failure.at('not_sent'), headRefused: this.headRefused });
  }

  /**
   * The client left: the attempt ends here and its connection closes, and nothing is reported
   * to the owner, which asked. Returns the attempt's failure for the log (undefined: it was over).
   */
  abandon(): Failure | undefined {
    if (this.finished) return undefined;
    const gone = new Failure('client_closed', this.client.response.leftHow, { stage: this.stage });
    const controller = this.controller;
    // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
    this.finish();
    if (controller !== undefined) controller.abort(gone);
    else this.target.pool.cancel(this);
    return gone;
  }

  private stopWaiting(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.releasePending();
    clearTimeout(this.queueTimer);
  }

  /** After the head went downstream the status cannot change: abort the transfer so the client sees it cut. */
  private failAfterHead(failure: Failure): void {
    this.finish();
    this.owner.bodyOver(failure);
    if (this.grpc !== undefined && this.endGrpcCut(this.grpc, failure)) return;
    // What was already written (the head, at least) leaves before the cut (the sink's abort).
    this.sink.abort();
  }

  /** A gRPC answer's cut, ended with its status when it can be (grpc-relay.ts). */
  private endGrpcCut(grpc: GrpcRelay, failure: Failure): boolean {
    const { sink } = this;
    const asSent = this.pace?.spool === undefined && sink.recoded !== true;
    // No next hop in the options: errors.detail minimal, whose grpc-message has no details either.
    return grpc.endCut(failure, this.record, sink, asSent, this.options.nextHop === undefined);
  }

  onInformational(head: UpstreamHead): void {
    // 100 answers an Expect that Candor handled itself; 1xx are not for HTTP/1.0 clients.
    if (this.client.head.versionMinor === 0 || this.sink.headSent || head.status === 100) return;
    // An upstream sending 1xx in a loop would otherwise grow the client's buffer without bound.
    if (this.interimCount >= MAX_INTERIM.count || this.interimBytes >= MAX_INTERIM.bytes) {
      this.record.interimDropped++;
      return;
    }
    // A proxy passes 1xx on (RFC 9110 §15.2): hop-by-hop fields out, Via in, as for the final head.
    const headers = buildDownstreamHead(
      head.headers,
      this.record.id,
      this.responseVia(head),
      undefined,
      false,
    );
    // One the client is not reading is not worth more memory: the sink drops it.
    if (!this.sink.sendInterim(head.status, head.reason || (REASONS[head.status] ?? ''), headers)) {
      this.record.interimDropped++;
      return;
    }
    this.interimCount++;
    for (let i = 0; i < headers.length; i++) this.interimBytes += headers[i].length + 2;
  }

  private firstByte(): void {
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.options.metrics.firstByte(this.upstream.name, this.target.config.origin, seconds);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopWaiting();
    this.bodyRate?.stop();
    this.releaseActive();
    this.releaseTunnel();
  }
}

/** The protocol the upstream switched to, as its 101 names it. */
function upgradeOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'upgrade') return headers[i + 1];
  return '';
}
