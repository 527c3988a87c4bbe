import type { Socket } from 'node:net';
import type { CompressionConfig } from '../../core/config/types.ts';
import { classifyExchangeError, isReset } from '../../core/failure/classify.ts';
import { Failure, sendTimeoutFailure } from '../../core/failure/failure.ts';
import {
  grpcStatusFields,
  grpcStatusOf,
  grpcStatusOfHttp,
  toldGrpcStatus,
} from '../../core/failure/grpc-answer.ts';
import { GRPC_CODES } from '../../core/failure/grpc-codes.ts';
import { receivedStatusProxyStatus } from '../../core/failure/proxy-status.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import { REASONS } from '../../core/failure/wording.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import type { DownstreamExchange, ResponseSink } from '../../core/net/downstream.ts';
import type { SendLimit } from '../../core/net/send-deadline.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
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
import { BodyRate } from './body-rate.ts';
import { CompressingSink } from './compressing-sink.ts';
import { GrpcMessageBounds, isGrpcResponse } from './grpc-cut.ts';
import { withGrpcTimeout } from './request-headers.ts';
import { buildDownstreamHead } from './response-headers.ts';
import { ResponseSpool } from './response-spool.ts';
import type { BodyCopy, ResponseStore } from './response-store.ts';
import type { SpoolSpace } from './spool-space.ts';
import { filterTrailers } from './trailer-fields.ts';
import { openTunnel } from './tunnel.ts';

/** How an attempt settled, as its exchange tells the attempt loop that started it (once). */
export type ExchangeOutcome =
  /**
   * It failed before anything went downstream: retried, or answered with an error response.
   * `headRefused`: the sink refused a head the upstream sent (defence in depth), so the answer
   * closes the connection.
   */
  | { readonly kind: 'failed'; readonly failure: Failure; readonly headRefused: boolean }
  /** The upstream's head went downstream with this status: a working server; its body follows (bodyOver). */
  | { readonly kind: 'responded'; readonly status: number }
  /** The upstream switched protocols and the tunnel is up (its 101 went downstream). */
  | { readonly kind: 'tunnelled'; readonly status: number }
  /** The upstream answered with this status, and the route's cache answered in its place (nothing was relayed). */
  | { readonly kind: 'replaced'; readonly status: number }
  /**
   * The client left while the attempt ran (a reset mid-upload, a close before the switch): the
   * attempt is over, nothing to answer, the failure is for the log only. (A client that leaves
   * otherwise is the owner's to see first: it ends the attempt with abandon(), and hears nothing.)
   */
  | { readonly kind: 'left'; readonly failure: Failure };

/** What an exchange reports back to the attempt loop that started it: how it settled, then how its answer's body ended. */
export interface ExchangeOwner {
  /** The attempt settled: said once, before anything of the body. */
  settled(outcome: ExchangeOutcome): void;
  /**
   * After `responded`, the body is over: whole (undefined), or broken after the head went
   * downstream (already aborted; recorded for the log and health), `client_closed` when the client left.
   */
  bodyOver(failure: Failure | undefined): void;
}

/** Interim (1xx) answers relayed per exchange at most, by count and by bytes: more are dropped, and counted. */
export const MAX_INTERIM = { count: 16, bytes: 64 * 1024 } as const;

/**
 * Response writes held for a client that is not keeping up before the upstream is paused, at
 * most, whatever their size (each is a buffer and its bookkeeping in the socket's queue).
 */
const MAX_HELD_WRITES = 1024;

/** The request body an attempt sends: none, the client's stream, or a buffered copy that can be replayed. */
export type AttemptBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream' }
  | { readonly kind: 'buffer'; readonly bytes: Buffer };

/** The request's deadline as the upstream is told it: what is left of it when the request goes out. */
export interface DeadlineLeft {
  /** What is left now, as a grpc-timeout value. */
  grpcTimeout(): string;
}

export interface ExchangeOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /**
   * A gRPC client's deadline, written into the request's grpc-timeout when it goes out (the
   * queue's wait, earlier attempts and their backoff spent); undefined: the fields go as they are.
   */
  readonly deadline: DeadlineLeft | undefined;
  readonly body: AttemptBody;
  /** Largest request body accepted when its length is not announced (chunked). */
  readonly bodyLimit: number;
  /** The minimum rate a streamed request body keeps (`limits.body_read_timeout`, `limits.body_min_rate`). */
  readonly bodyRate: { readonly bodyReadTimeout: number; readonly bodyMinRate: number };
  /**
   * Response bytes held for a slow client before the upstream is paused (`routes[].limits.buffer`):
   * a response up to it is taken whole, and its connection goes back to the pool at once.
   */
  readonly responseBuffer: number;
  readonly proxyName: string;
  /**
   * This hop's Via entries for an answer, by the version it was received in (RFC 9110 §7.6.3
   * names the version received): "1.0 edge-1", "1.1 edge-1", "2 edge-1".
   */
  readonly vias: { readonly via10: string; readonly via11: string; readonly via2: string };
  /** next-hop for Proxy-Status on the upstream's own error responses (undefined: errors.detail minimal). */
  readonly nextHop: string | undefined;
  /** An upgrade: the upstream is asked to switch, and a 101 opens a tunnel. */
  readonly upgrade: boolean;
  /** No trailers reach the client after a body of known length (HTTP/1.x): ExchangeRequest's. */
  readonly wholeAtLength: boolean;
  /** The route's response rules, applied to the final head; absent: none. */
  readonly editHeaders: ((headers: readonly string[]) => string[]) | undefined;
  /** Where the connect time and the time to first byte are counted. */
  readonly metrics: GatewayMetrics;
  /** routes[].compression; absent: the response goes out as the upstream sent it. */
  readonly compression?: CompressionConfig;
  /** The route's cache for this request; undefined when the route has none. */
  readonly store: ResponseStore | undefined;
  /** Where a response past `responseBuffer` goes while its client is slow (`limits.spool`); undefined: nowhere, the upstream waits. */
  readonly spool: SpoolSpace | undefined;
}

/**
 * The forward phase: one attempt against one target, on a connection from the target's
 * pool. Bodies stream both ways with backpressure; every failure is classified once, with
 * the stage it happened at, and handed to the owner (before the head went downstream) or
 * turned into an aborted downstream transfer (after).
 */
export class Exchange implements ExchangeHandler, PoolWaiter {
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
  /** The client's socket holds the buffer's worth: the upstream is paused until it drains. */
  private awaitingDrain = false;
  /** The downstream response can carry the upstream's trailers (set with the head). */
  private trailersAllowed = false;
  /** Writes made since the client's socket last drained (0: it keeps up). */
  private heldWrites = 0;
  /** Response bytes counted against the client connection's budget (chargeHeld). */
  private heldCharged = 0;
  /** Listening to the sink's send deadline and close (from the first write left waiting). */
  private watchingSink = false;
  /** The sink refused the upstream's head: the attempt's failure says so (ExchangeOutcome). */
  private headRefused = false;
  /** The body's copy for the route's cache (bounded; stored only when the body ends whole). */
  private copy: BodyCopy | undefined;
  /** What the client could not take yet, past the buffer, on its way through a file (response-spool.ts). */
  private spool: ResponseSpool | undefined;
  /** onDrain, bound: made the first time the client falls behind (no closure made per exchange). */
  private drained: (() => void) | undefined;
  /** A gRPC response's messages as they go to the client: a cut at a boundary can end with its status (grpc-cut.ts). */
  private grpcBounds: GrpcMessageBounds | undefined;
  /** A gRPC call's answer's HTTP status as gRPC maps it (undefined: a 200 gRPC answer, read by its grpc-status). */
  private grpcByHttp: number | undefined;

  constructor(
    client: DownstreamExchange,
    record: RequestRecord,
    upstream: Upstream,
    target: Target,
    owner: ExchangeOwner,
    options: ExchangeOptions,
  ) {
    this.client = client;
    // The one check a route without compression pays.
    this.sink =
      options.compression === undefined
        ? client.response
        : new CompressingSink(client.response, options.compression, client.head, record, client.budget);
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
    return this.awaitingDrain || this.spool?.holdsUpstream === true;
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
    const { record, sink } = this;
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
    // A gRPC upstream's Trailers-Only answer: its status is in the head; an answer that is not
    // a 200 and has none is read by the client by its HTTP status, as gRPC maps it, and so is a
    // 200 that is no gRPC answer (a JSON API's): UNKNOWN (http-grpc-status-mapping.md).
    if (record.grpc) {
      this.grpcByHttp =
        grpcStatusOfHttp(statusCode) ??
        (statusCode === 200 && !isGrpcResponse(statusCode, response.headers)
          ? GRPC_CODES.UNKNOWN
          : undefined);
      record.upstreamGrpcStatus = grpcStatusIn(response.headers) ?? this.grpcByHttp;
    }
    const { store } = this.options;
    if (store !== undefined && this.answeredByStore(store, controller, response)) return;
    const head = buildDownstreamHead(
      response.headers,
      record.id,
      this.responseVia(response),
      statusCode >= 500
        ? receivedStatusProxyStatus(this.options.proxyName, statusCode, this.options.nextHop)
        : undefined,
      this.trailersAllowed,
    );
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
    if (record.grpc && isGrpcResponse(statusCode, response.headers))
      this.grpcBounds = new GrpcMessageBounds();
    this.copy = store?.keep(statusCode, response.reason, response.headers, response.version);
    this.owner.settled({ kind: 'responded', status: statusCode });
  }

  /**
   * The route's cache answers in the upstream's place (a stored answer for its 5xx, or the one
   * its 304 confirmed): the upstream's answer is not read further (its connection closes), the
   * attempt is over with the upstream's status, and the stored answer goes out.
   */
  private answeredByStore(
    store: ResponseStore,
    controller: ExchangeController,
    response: UpstreamHead,
  ): boolean {
    const answer = store.insteadOf(response.status, response.headers);
    if (answer === undefined) return false;
    // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
    this.finish();
    controller.abort(
      new Failure('http_response_incomplete', "the cache answered in the upstream's place", {
        stage: 'head_received',
      }),
    );
    this.owner.settled({ kind: 'replaced', status: response.status });
    answer();
    return true;
  }

  onResponseData(controller: ExchangeController, chunk: Buffer): void {
    this.record.bytesOut += chunk.length;
    this.clientSpokeLast = false;
    this.copy?.add(chunk);
    this.grpcBounds?.feed(chunk);
    if (this.spool !== undefined) {
      if (!this.spool.add(chunk)) controller.pause();
      return;
    }
    if (this.relay(chunk) || this.awaitingDrain) return;
    // Past the buffer: the rest goes through a file, so the upstream need not wait for this
    // client; with no spool, the upstream waits.
    if (this.startSpool(controller)) return;
    this.awaitingDrain = true;
    controller.pause();
  }

  /**
   * Writes a piece of the body to the client. False when the client is not keeping up and holds
   * the buffer's worth (its drain, onDrain, comes next): what the client has not taken is held
   * for it up to the buffer (so a response that fits is taken whole and its connection freed at
   * once). Writes are counted too: a million one-byte chunks are a few bytes but a million buffers.
   */
  private relay(chunk: Buffer): boolean {
    const { sink } = this;
    if (sink.write(chunk) && this.heldWrites === 0) return true;
    if (this.heldWrites++ === 0) {
      if (!this.watchingSink) {
        this.watchingSink = true;
        // The sink owns the send deadline (it armed it with this write): the exchange hears
        // when it runs out, to end the attempt and say why in the log.
        sink.onSendTimeout((limit) => this.onSendTimeout(limit));
        sink.onClose(() => this.chargeHeld(0));
      }
      // Made the first time the client falls behind (most responses never do), then kept.
      this.drained ??= () => this.onDrain();
      sink.onDrain(this.drained);
    }
    this.chargeHeld(sink.pendingBytes);
    return (
      sink.pendingBytes <= this.options.responseBuffer &&
      this.heldWrites <= MAX_HELD_WRITES &&
      !this.connectionFull()
    );
  }

  /** Sends the rest of the body through a file; false when there is no spool (limits.spool.max_total 0, or spent). */
  private startSpool(controller: ExchangeController): boolean {
    const space = this.options.spool;
    if (space === undefined || space.full || this.sink.closed) return false;
    const spool = new ResponseSpool(space, {
      send: (chunk) => this.relay(chunk),
      resume: () => {
        if (!this.finished) controller.resume();
      },
      failed: (error) => this.onSpoolFailed(error),
      wrote: (bytes) => {
        this.record.spooled = (this.record.spooled ?? 0) + bytes;
      },
    });
    this.spool = spool;
    this.sink.onClose(() => {
      spool.close();
      if (spool.spooled > 0) this.options.metrics.spooled(this.record.route ?? '', spool.spooled);
    });
    return true;
  }

  /** The spool's disk failed: the response cannot go on whole, and is cut (said so in the log). */
  private onSpoolFailed(error: Error): void {
    const failure = new Failure('proxy_internal_error', `response spool failed: ${error.message}`, {
      stage: 'body_streaming',
      cause: error,
    });
    if (!this.finished) return this.cancel(failure);
    this.owner.bodyOver(failure);
    this.sink.abort();
  }

  /**
   * Counts what waits for the client now against its connection's budget (HTTP/2: shared by
   * the connection's streams). Only after a write left something waiting; given back as the
   * client takes it, and whole when the response is over.
   */
  private chargeHeld(bytes: number): void {
    const { budget } = this.client;
    if (budget === undefined) return;
    budget.add(bytes - this.heldCharged);
    this.heldCharged = bytes;
  }

  /** The client's connection holds its budget's worth: this response waits for its client too. */
  private connectionFull(): boolean {
    const { budget } = this.client;
    return budget !== undefined && budget.room < 0;
  }

  /** The client took everything held for it. */
  private onDrain(): void {
    this.heldWrites = 0;
    this.chargeHeld(this.sink.pendingBytes);
    // A spooled rest goes on from its file (the sink re-arms its send deadline itself).
    if (this.spool !== undefined) return this.spool.pump();
    if (!this.awaitingDrain) return;
    this.awaitingDrain = false;
    // A response that ended in the read that paused it: its HTTP/1.1 connection may carry the
    // next exchange by now, whose own client's pause a resume from here would undo.
    if (this.finished) return;
    this.controller?.resume();
  }

  /** The client took no byte of the response for the send deadline: cut, and said so in the log. */
  private onSendTimeout(limit: SendLimit): void {
    const failure = sendTimeoutFailure(limit);
    // Still reading from the upstream: the exchange ends through the connection, which closes.
    if (!this.finished) return this.cancel(failure);
    // The response was whole from the upstream (its connection is back in the pool); only the
    // client's copy waits.
    this.owner.bodyOver(failure);
    this.sink.abort();
  }

  onResponseEnd(_controller: ExchangeController, trailers: string[] | undefined): void {
    const kept = trailers !== undefined && this.trailersAllowed ? filterTrailers(trailers) : undefined;
    if (this.grpcBounds !== undefined) this.record.upstreamGrpcStatus = this.grpcStatusRead(trailers, kept);
    else if (this.record.grpc) this.record.upstreamGrpcStatus = this.httpGrpcStatusRead(trailers);
    this.copy?.end();
    // The upstream sent everything: its connection goes back to the pool now (finish), and a
    // spooled rest reaches the client from the file.
    if (this.spool === undefined) this.sink.end(kept);
    else this.spool.end(() => this.sink.end(kept));
    this.finish();
    this.owner.bodyOver(undefined);
  }

  /**
   * The status a gRPC client reads of a gRPC answer passed on as it is: its trailers'; its head's
   * only when the head goes out with the end as one HEADERS frame (Trailers-Only: no body, the
   * head still held), gRPC's libraries reading a status in a head followed by a body nowhere.
   * None there: ended by a HEADERS frame (trailers, or Trailers-Only), UNKNOWN, what gRPC maps a
   * 200 to; ended by a DATA frame (its body, or an empty one after its head), INTERNAL ("ended
   * without gRPC status").
   */
  private grpcStatusRead(trailers: string[] | undefined, kept: string[] | undefined): number {
    const inTrailers = trailers === undefined ? undefined : grpcStatusIn(trailers);
    if (inTrailers !== undefined) return inTrailers;
    if (kept !== undefined && kept.length > 0) return GRPC_CODES.UNKNOWN;
    const trailersOnly = this.record.bytesOut === 0 && this.sink.headHeld === true;
    if (trailersOnly) return this.record.upstreamGrpcStatus ?? GRPC_CODES.UNKNOWN;
    return GRPC_CODES.INTERNAL;
  }

  /**
   * The status a gRPC client reads of an answer that is no gRPC one (not a 200, or a 200 of another
   * type): its trailers'; its head's only in a Trailers-Only answer (no body, the head still held);
   * else the HTTP status as gRPC maps it (grpc-js; grpc-go reads that mapping of any non-200), a
   * grpc-status in a head followed by a body being read nowhere.
   */
  private httpGrpcStatusRead(trailers: string[] | undefined): number | undefined {
    const inTrailers = trailers === undefined ? undefined : grpcStatusIn(trailers);
    if (inTrailers !== undefined) return inTrailers;
    if (this.record.bytesOut === 0 && this.sink.headHeld === true) return this.record.upstreamGrpcStatus;
    return this.grpcByHttp ?? this.record.upstreamGrpcStatus;
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
    if (this.grpcBounds !== undefined && this.endGrpcCut(failure)) return;
    // What was already written (the head, at least) leaves before the cut (the sink's abort).
    this.sink.abort();
  }

  /**
   * A gRPC response cut at a message boundary ends with the failure's grpc-status in its
   * trailers, which a gRPC client reads as plainly as a reset, and which says how it failed
   * (grpc-cut.ts). Inside a message, or with a rest still in the spool or a compressor, it is
   * reset, and the client reads INTERNAL: the log says what the client read.
   */
  private endGrpcCut(failure: Failure): boolean {
    const { record, sink } = this;
    if (sink.closed) return false;
    const whole = (this.grpcBounds as GrpcMessageBounds).atBoundary;
    const compressing = sink instanceof CompressingSink && !sink.passingThrough;
    if (!whole || this.spool !== undefined || compressing) {
      toldGrpcStatus(record, GRPC_CODES.INTERNAL);
      return false;
    }
    toldGrpcStatus(record, grpcStatusOf(failure));
    // No next hop in the options: errors.detail minimal, whose grpc-message has no details either.
    sink.end(grpcStatusFields(failure, record.id, this.options.nextHop === undefined));
    return true;
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

/**
 * The gRPC status a client reads from the `grpc-status` among flat fields, when one is there: a
 * value that is none of gRPC's 17 codes ("17", "-1", "abc") is read as UNKNOWN, as gRPC's
 * libraries read it, so an upstream cannot widen the log's and the metric's values past them.
 */
function grpcStatusIn(fields: readonly string[]): number | undefined {
  for (let i = 0; i < fields.length; i += 2)
    if (fields[i].length === 11 && fields[i].toLowerCase() === 'grpc-status') {
      const value = fields[i + 1];
      const code = Number(value);
      return /^[0-9]{1,3}$/.test(value) && code <= GRPC_CODES.UNAUTHENTICATED ? code : GRPC_CODES.UNKNOWN;
    }
  return undefined;
}
