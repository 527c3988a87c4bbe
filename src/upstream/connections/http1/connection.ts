import type { Socket } from 'node:net';
import { Failure } from '../../../core/failure/failure.ts';
import { AnswerParser } from '../../../core/http1/answer-parser.ts';
import type { AnswerHead, AnswerParserHandler, Framing } from '../../../core/http1/parsed-answer.ts';
import { readsAsStream, takeReads } from '../../../core/net/direct-reads.ts';
import type { MovingDeadline } from '../../../core/net/moving-deadline.ts';
import type {
  ConnectionTimeouts,
  ExchangeController,
  ExchangeHandler,
  ExchangeRequest,
  HeadSoFar,
} from '../exchange-contract.ts';
import { AnswerDecoding, type DecodingConnection } from './answer-decoding.ts';
import { type ClockedConnection, ConnectionClocks, type ExchangeStage } from './connection-clocks.ts';
import { type ConnectionOptions, REUSED } from './connection-setup.ts';
import { idleLimit } from './idle-limit.ts';
import { ReadBatch } from './read-batch.ts';
import { type RequestingConnection, RequestOut } from './request-out.ts';
import { type EndingConnection, SocketEndings } from './socket-endings.ts';
import { handOverTunnel, offeredUpgrade } from './upgrade.ts';
import { upstreamHeadOf } from './upstream-head.ts';

/** Where a finished connection goes: back to the pool, or out of it. */
export interface ConnectionOwner {
  release(connection: UpstreamConnection): void;
  discard(connection: UpstreamConnection): void;
  /** The upstream closed this connection after `idleMs` parked idle (idle-limit.ts's IdleCloseLearning hears it). */
  idleClosed(connection: UpstreamConnection, idleMs: number): void;
}

/**
 * One HTTP/1.1 connection to an upstream target, carrying one exchange at a time (no
 * pipelining). It writes the request, parses the response with Candor's own parser and
 * classifies every way the exchange can end badly into a Failure at the source: here the
 * bytes, the socket's errors and the parser's state are all known, so nothing is guessed
 * later from an error message.
 */
export class UpstreamConnection
  implements
    AnswerParserHandler,
    ExchangeController,
    DecodingConnection,
    ClockedConnection,
    EndingConnection,
    RequestingConnection
{
  readonly socket: Socket;
  readonly connectMs: number;
  /** Requests this connection has carried, the current one included. */
  requests = 0;
  /** Milliseconds this connection is kept idle: the pool's idle_timeout, shortened by the last response's Keep-Alive hint. */
  idleLimit: number;
  /** The pool's idle_timeout when the connection opened (a reload that changes it outdates the connection). */
  private readonly idleTimeout: number;
  private readonly owner: ConnectionOwner;
  private readonly parser: AnswerParser;
  /** The pool's clocks; an exchange may bring its own (its route's: Dispatcher.dispatch's `clocks`). */
  private readonly poolTimeouts: ConnectionTimeouts;
  /** The clocks of the exchange in progress. */
  private timeouts: ConnectionTimeouts;
  private handler: ExchangeHandler | null = null;
  private head: AnswerHead | null = null;
  /** A 101 arrived: once the read that carried it is parsed, the socket goes to the handler. */
  private switched: AnswerHead | null = null;
  private reusable = false;
  /** The request going out (request-out.ts), its body streaming from the client. */
  private readonly out: RequestOut;
  /** The head, read and idle clocks (connection-clocks.ts); the read clock, set at every read, as a field of its own. */
  private readonly clocks: ConnectionClocks;
  private readonly readClock: MovingDeadline;
  /** How the socket ends (socket-endings.ts): the upstream's FIN, its error, its close, stray bytes. */
  private readonly endings: SocketEndings;
  /** Body pieces received in this exchange: a read timer that fired checks it has not moved. */
  bodyPieces = 0;
  /** The read the parser goes over (read-batch.ts): its body pieces passed on as one, a completion in it. */
  private readonly batch = new ReadBatch();
  /** Undoing the response's transfer codings (gzip, deflate), when it came with any. */
  private decoding: AnswerDecoding | undefined = undefined;
  /** The downstream asked to pause. */
  private downstreamPaused = false;
  /** Its reads are views of a buffer the next read overwrites (direct-reads.ts): what is kept of one is copied. */
  private readonly directReads: boolean;
  /** When it was last parked in the pool (performance.now()); 0: never. */
  private parkedAt = 0;

  constructor(socket: Socket, connectMs: number, owner: ConnectionOwner, options: ConnectionOptions) {
    this.socket = socket;
    this.connectMs = connectMs;
    this.owner = owner;
    this.poolTimeouts = options.timeouts;
    this.timeouts = options.timeouts;
    this.idleTimeout = options.idleTimeout;
    this.idleLimit = options.idleTimeout;
    this.parser = new AnswerParser(this, options.maxHeaderSize);
    this.clocks = new ConnectionClocks(this, options.timeouts);
    this.readClock = this.clocks.read;
    this.endings = new SocketEndings(this, socket, this.parser, this.clocks, options);
    this.out = new RequestOut(this, socket, this.clocks, options.authority);
    this.directReads = takeReads(socket, this.onSocketData);
    if (!this.directReads) socket.on('data', this.onSocketData);
  }

  /** Where the exchange on this connection is (its clocks and endings read it when they fire). */
  get stage(): ExchangeStage {
    if (this.handler === null) return 'none';
    if (this.head === null) return 'head';
    return this.decoding?.tail === true ? 'tail' : 'body';
  }

  /** The handler of the exchange in progress (null: none). */
  get current(): ExchangeHandler | null {
    return this.handler;
  }

  get requestUnsent(): boolean {
    return this.out.unsent;
  }

  get answerFraming(): Framing | undefined {
    return this.head?.framing;
  }

  leavePool(): void {
    this.owner.discard(this);
  }

  writeRefused(): boolean {
    if (!this.out.keepsOpen || this.handler === null) return false;
    // The rest of the body has nowhere to go, and the connection can carry no other request.
    this.out.refused();
    this.reusable = false;
    // Its answer, if it sent one, is bounded by the response's clock, as after a body sent whole.
    if (this.stage === 'head') this.clocks.sent();
    return true;
  }

  remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Bytes the socket still holds: the kernel's send buffer is full, the upstream reads no more. */
  requestWaiting(): string | undefined {
    const left = this.socket.destroyed ? 0 : this.socket.writableLength;
    if (left === 0) return undefined;
    return `${left} bytes of the request were still waiting for the upstream to take them (it stopped reading: its connection took no more)`;
  }

  /** The interim heads and the bytes of a head begun, from the parser. */
  headSoFar(): HeadSoFar {
    return { interim: this.parser.interimCount, partial: this.parser.headBytesSoFar };
  }

  // ── the request ──────────────────────────────────────────────────────────────────

  dispatch(request: ExchangeRequest, handler: ExchangeHandler, clocks?: ConnectionTimeouts): void {
    this.handler = handler;
    this.head = null;
    this.reusable = false;
    this.timeouts = clocks ?? this.poolTimeouts;
    this.clocks.timeouts = this.timeouts;
    this.endings.exchangeStarts();
    const startedAt = performance.now();
    this.clocks.startedAt = startedAt;
    this.bodyPieces = 0;
    this.downstreamPaused = false;
    this.parser.expect(
      request.method === 'HEAD',
      request.upgrade === true ? offeredUpgrade(request) : undefined,
    );
    const reused = this.requests > 0;
    this.requests++;
    handler.onRequestStart(this, reused ? REUSED : { connectMs: this.connectMs, reused });
    if (this.handler !== handler) return; // aborted from onRequestStart
    this.out.write(request, handler, startedAt);
  }

  // ── the controller ───────────────────────────────────────────────────────────────

  abort(failure: Failure): void {
    const handler = this.handler;
    if (handler === null) return;
    this.end();
    this.destroy();
    handler.onResponseError(this, failure);
  }

  pause(): void {
    this.downstreamPaused = true;
    this.socket.pause();
    this.decoding?.pause();
  }

  resume(): void {
    if (this.handler === null) return;
    this.downstreamPaused = false;
    if (this.head !== null) this.readClock.setIn(this.timeouts.read);
    this.decoding?.resume();
    if (this.decoding?.full !== true) this.socket.resume();
  }

  // ── the response (the parser's handler) ──────────────────────────────────────────

  onHead(head: AnswerHead): void {
    const handler = this.handler;
    if (handler === null) return;
    if (head.status === 101) {
      this.switched = head;
      return;
    }
    if (head.status < 200) {
      // The head clock keeps running: interim answers must not keep a request alive forever.
      handler.onInformational(upstreamHeadOf(head));
      return;
    }
    this.head = head;
    this.reusable = head.keepAlive;
    // Each response says it anew: the upstream's latest word on how long it keeps the connection.
    this.idleLimit = idleLimit(this.idleTimeout, head.keepAliveTimeout);
    if (head.decode.length > 0)
      this.decoding = new AnswerDecoding(head.decode, this, handler, this.downstreamPaused);
    handler.onResponseStart(this, upstreamHeadOf(head));
  }

  onBody(chunk: Buffer): void {
    if (this.handler === null) return;
    this.bodyPieces++;
    // Parsing a read: the read clock starts again once the read is parsed (onSocketData).
    if (this.batch.reading) return this.batch.add(chunk);
    this.readClock.setIn(this.timeouts.read);
    this.passBody(chunk);
  }

  private passBody(chunk: Buffer): void {
    const handler = this.handler as ExchangeHandler;
    const decoding = this.decoding;
    if (decoding === undefined) return handler.onResponseData(this, chunk);
    decoding.write(chunk);
  }

  onComplete(trailers: string[] | undefined): void {
    if (this.handler === null) return;
    // Parsing a read: decided in onSocketData once the parser has returned.
    if (this.batch.reading) return this.batch.complete(trailers);
    this.answerComplete(trailers);
  }

  /** The upstream's response is all in: the exchange ends, after the decoder (if any) has emptied. */
  private answerComplete(trailers: string[] | undefined): void {
    const decoding = this.decoding;
    if (decoding === undefined) return this.endExchange(trailers);
    decoding.end(trailers);
  }

  /** The response is whole (its decoded body all out, when it had codings): the exchange ends. */
  endExchange(trailers: string[] | undefined): void {
    const handler = this.handler;
    if (handler === null) return;
    // A response that ends while the request body is still going out leaves the upstream
    // expecting the rest: this connection cannot carry another request. So does one whose body
    // was all handed to the socket but not taken (an early answer, then no more reads): the
    // next request would wait behind bytes the upstream may never read.
    if (this.out.sending || this.socket.writableLength > 0) {
      this.out.stop();
      this.reusable = false;
    }
    this.end();
    // Paused by a slow client in the response's last read: a parked socket must read again,
    // for the next response and to notice the upstream closing it.
    if (this.socket.isPaused()) this.socket.resume();
    if (this.reusable && this.idleLimit > 0 && !this.endings.closed && !this.closing)
      this.owner.release(this);
    else this.destroy();
    handler.onResponseEnd(this, trailers);
  }

  /**
   * Ends the current exchange's bookkeeping (not the connection). The head and read clocks
   * are left as they are: a deadline that passes finds no exchange, or another one (its own
   * clock set since), and does nothing.
   */
  private end(): void {
    this.handler = null;
    this.out.stop();
    this.decoding?.destroy();
    this.decoding = undefined;
    this.batch.forget();
  }

  /** After a 101 the socket carries another protocol: it leaves this connection, and the pool, for good. */
  private handOver(head: AnswerHead, rest: Buffer): void {
    const handler = this.handler as ExchangeHandler;
    this.end();
    this.endings.leave();
    this.clocks.stop();
    if (this.directReads) readsAsStream(this.socket);
    else this.socket.off('data', this.onSocketData);
    this.owner.discard(this);
    handOverTunnel(handler, head, this.socket, rest);
  }

  // ── the socket ───────────────────────────────────────────────────────────────────

  private readonly onSocketData = (data: Buffer): void => {
    if (this.handler === null) {
      // Bytes nobody asked for: the upstream is confused, the connection cannot be trusted.
      this.endings.stray(data.length);
      this.destroy();
      return;
    }
    let failure: Failure | undefined;
    const batch = this.batch;
    batch.reading = true;
    try {
      failure = this.parser.execute(data);
      batch.reading = false;
      const body = batch.take(this.directReads);
      // Pieces parsed before a fault in the same read were valid: they go on before the cut, as
      // they would had the fault come in a later read (a gRPC client's whole message with them).
      if (body !== undefined && this.handler !== null) this.passBody(body);
      // Bytes after a complete response (in this read or a later one): a second answer to one
      // request. Whoever waits for a connection, this one is not to be trusted with it.
      if (this.parser.leftover > 0) {
        this.reusable = false;
        // (After a 101 they are the new protocol's, not stray.)
        if (this.switched === null) this.endings.stray(this.parser.leftover);
      }
      if (batch.completed) {
        batch.completed = false;
        if (failure === undefined) this.answerComplete(batch.trailers);
      } else if (failure === undefined && this.head !== null && this.handler !== null) {
        // A response not over when its read is: the read clock runs from here (one whose head
        // and end came in one read, as most small ones do, needs none).
        this.readClock.setIn(this.timeouts.read);
      }
    } catch (err) {
      // A bug in a handler must cost one request, not the process.
      failure = new Failure('proxy_internal_error', 'internal error while proxying', { cause: err });
    } finally {
      batch.done();
    }
    if (failure !== undefined) return this.abort(failure);
    if (this.switched !== null) {
      const rest = data.subarray(data.length - this.parser.leftover);
      return this.handOver(this.switched, this.directReads ? Buffer.from(rest) : rest);
    }
    if (this.parser.leftover > 0 && this.handler === null) this.destroy();
  };

  // ── the pool's side ──────────────────────────────────────────────────────────────

  /**
   * Parked in the pool: closed after idleLimit unless a request takes it first, or sooner when
   * the upstream is known to close idle connections sooner (`learned`: IdleCloseLearning's).
   */
  park(learned = Number.POSITIVE_INFINITY): void {
    const now = performance.now();
    this.parkedAt = now;
    this.clocks.idle.setIn(Math.min(this.idleLimit, learned), now);
  }

  /** The upstream ended it while idle: its pool hears how long, if it had carried a request (a first request's timeout is not an idle one). */
  closedIdle(): void {
    if (this.parkedAt > 0 && this.requests > 0)
      this.owner.idleClosed(this, performance.now() - this.parkedAt);
    this.destroy();
  }

  /** Parked: kept `limit` ms at most from when it was parked (a limit learned meanwhile), closed now if past it. */
  keepIdleAtMost(limit: number, now: number): void {
    const left = this.parkedAt + Math.min(this.idleLimit, limit) - now;
    if (left <= 0) this.destroy();
    else this.clocks.idle.setIn(left, now);
  }

  /**
   * The upstream closed its side (its FIN was read), or the socket is gone: no request may go
   * out on it. Node ends the socket's own side a tick after the FIN and destroys it only once
   * that is done; a request written in between is refused by the socket before a byte leaves
   * (EPIPE), and one that is not idempotent cannot be retried.
   */
  get closing(): boolean {
    const { socket } = this;
    return socket.destroyed || socket.readableEnded || !socket.writable;
  }

  /**
   * Parked past its idle limit (at `now`, performance.now()): its timer may not have fired yet,
   * on a loop busy meanwhile, but the upstream may be closing it already.
   */
  idleOver(now: number): boolean {
    return this.clocks.idle.passed(now);
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
