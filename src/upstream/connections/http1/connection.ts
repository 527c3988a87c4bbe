import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { Failure } from '../../../core/failure/failure.ts';
import type { ResponseHead, ResponseParserHandler } from '../../../core/http1/parsed-response.ts';
import { serializeRequestHead } from '../../../core/http1/request-head.ts';
import { ResponseParser } from '../../../core/http1/response-parser.ts';
import { MovingDeadline } from '../../../core/net/moving-deadline.ts';
import { corkUntilTurnEnd } from '../../../core/net/turn-end.ts';
import { type BodyPump, pumpRequestBody } from '../body-pump.ts';
import type {
  ConnectionFacts,
  ConnectionTimeouts,
  ExchangeController,
  ExchangeHandler,
  ExchangeRequest,
  HeadSoFar,
} from '../exchange-contract.ts';
import { bodyStalled, headTimedOut } from '../exchange-timers.ts';
import { ChunkedOut, PlainOut } from './body-out.ts';
import { connectionEnded } from './connection-ended.ts';
import { idleLimit } from './idle-limit.ts';
import { type DecodingConnection, ResponseDecoding } from './response-decoding.ts';
import { upstreamHeadOf } from './upstream-head.ts';

/** Where a finished connection goes: back to the pool, or out of it. */
export interface ConnectionOwner {
  release(connection: UpstreamConnection): void;
  discard(connection: UpstreamConnection): void;
}

/**
 * One HTTP/1.1 connection to an upstream target, carrying one exchange at a time (no
 * pipelining). It writes the request, parses the response with Candor's own parser and
 * classifies every way the exchange can end badly into a Failure at the source: here the
 * bytes, the socket's errors and the parser's state are all known, so nothing is guessed
 * later from an error message.
 */
export class UpstreamConnection implements ResponseParserHandler, ExchangeController, DecodingConnection {
  readonly socket: Socket;
  readonly connectMs: number;
  /** Requests this connection has carried, the current one included. */
  requests = 0;
  /** Milliseconds this connection is kept idle: the pool's idle_timeout, shortened by the last response's Keep-Alive hint. */
  idleLimit: number;
  /** The pool's idle_timeout when the connection opened (a reload that changes it outdates the connection). */
  private readonly idleTimeout: number;
  private readonly owner: ConnectionOwner;
  private readonly parser: ResponseParser;
  private readonly timeouts: ConnectionTimeouts;
  private readonly authority: string;
  private readonly strayBytes: ((target: string, bytes: number) => void) | undefined;
  /** Stray bytes were told for this connection (it closes for them: once is the truth). */
  private strayTold = false;
  private handler: ExchangeHandler | null = null;
  private head: ResponseHead | null = null;
  /** A 101 arrived: once the read that carried it is parsed, the socket goes to the handler. */
  private switched: ResponseHead | null = null;
  private reusable = false;
  /** The client's body going out, while it streams. */
  private pump: BodyPump | undefined;
  /**
   * The head clock (from the request to the response head), the read clock (the longest silence
   * in the body) and the idle clock (parked in the pool): deadlines moved per exchange, a timer
   * made about once per length of each (moving-deadline.ts), not re-armed per request.
   */
  private readonly headClock: MovingDeadline;
  private readonly readClock: MovingDeadline;
  private readonly idleClock: MovingDeadline;
  private socketError: NodeJS.ErrnoException | undefined;
  /** The socket's error came with none of the request sent (see requestUnsent). */
  private unsentAtError = false;
  private startedAt = 0;
  /** When the request was wholly sent: the head clock runs from there (a client's slow upload is not the upstream's wait). */
  private sentAt = 0;
  /** Body pieces received in this exchange: a read timer that fired checks it has not moved. */
  private bodyPieces = 0;
  private closed = false;
  /** Inside the parser's run over one read: a completion then waits until the whole read is seen. */
  private reading = false;
  /**
   * Body pieces parsed from the read in progress, passed on as one buffer once the parser
   * returns: a response of many small chunks costs one downstream write per read, not one
   * per chunk (10^6 one-byte chunks are about 600 reads, not 10^6 writes).
   */
  private readonly pieces: Buffer[] = [];
  /** The response completed in the read being parsed; its trailers. */
  private completedInRead = false;
  private completedTrailers: string[] | undefined = undefined;
  /** Undoing the response's transfer codings (gzip, deflate), when it came with any. */
  private decoding: ResponseDecoding | undefined = undefined;
  /** The downstream asked to pause. */
  private downstreamPaused = false;

  constructor(socket: Socket, connectMs: number, owner: ConnectionOwner, options: ConnectionOptions) {
    this.socket = socket;
    this.connectMs = connectMs;
    this.owner = owner;
    this.timeouts = options.timeouts;
    this.authority = options.authority;
    this.strayBytes = options.strayBytes;
    this.idleTimeout = options.idleTimeout;
    this.idleLimit = options.idleTimeout;
    this.parser = new ResponseParser(this, options.maxHeaderSize);
    this.headClock = new MovingDeadline(this.onHeadTimeout);
    this.readClock = new MovingDeadline(this.onReadTimeout);
    this.idleClock = new MovingDeadline(this.onIdleTimeout);
    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
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

  dispatch(request: ExchangeRequest, handler: ExchangeHandler): void {
    this.handler = handler;
    this.head = null;
    this.reusable = false;
    this.socketError = undefined;
    this.unsentAtError = false;
    this.startedAt = performance.now();
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
    const { socket } = this;
    const { body } = request;
    const head = serializeRequestHead(request, this.authority);
    // timeouts.response runs from the request sent: for a body streaming from the client, once
    // it is all out (the clock of the exchange before is cleared meanwhile).
    if (body.kind === 'stream') this.headClock.clear();
    else this.headSent(this.startedAt);
    if (body.kind === 'buffer') {
      handler.onBodyChunk(body.bytes);
      if (this.handler !== handler) return;
    }
    // The request leaves at the end of the turn, with every other request of the turn (one
    // wake-up of the upstream for all of them: turn-end.ts), and with as much of its body as
    // has arrived by then.
    corkUntilTurnEnd(socket);
    socket.write(head, 'latin1');
    if (body.kind === 'none') {
      handler.onRequestSent();
    } else if (body.kind === 'buffer') {
      if (body.bytes.length > 0) socket.write(body.bytes);
      handler.onRequestSent();
    } else {
      this.streamBody(body.source, !body.lengthAnnounced);
    }
  }

  /** The request is all out: the head clock starts. */
  private headSent(now = performance.now()): void {
    this.sentAt = now;
    this.headClock.setIn(this.timeouts.head, now);
  }

  /** The client's body, passed on with backpressure both ways, framed in chunks when its length is unknown. */
  private streamBody(source: Readable, chunked: boolean): void {
    const handler = this.handler as ExchangeHandler;
    this.pump = pumpRequestBody(
      source,
      chunked ? new ChunkedOut(this.socket) : new PlainOut(this.socket),
      handler,
      () => this.handler,
      (failure) => this.abort(failure),
      () => {
        // A response that came first (an early 413) needs no clock for its head.
        if (this.handler === handler && this.head === null) this.headSent();
      },
    );
  }

  /** Detaches the client's body from this connection (a no-op when none is streaming). */
  private stopBody(): void {
    this.pump?.stop();
    this.pump = undefined;
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

  onHead(head: ResponseHead): void {
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
      this.decoding = new ResponseDecoding(head.decode, this, handler, this.downstreamPaused);
    handler.onResponseStart(this, upstreamHeadOf(head));
  }

  onBody(chunk: Buffer): void {
    if (this.handler === null) return;
    this.bodyPieces++;
    // Parsing a read: the read clock starts again once the read is parsed (onSocketData).
    if (this.reading) return void this.pieces.push(chunk);
    this.readClock.setIn(this.timeouts.read);
    this.passBody(chunk);
  }

  /** The body pieces of the read just parsed, as one buffer. */
  private flushPieces(): void {
    const { pieces } = this;
    if (pieces.length === 0) return;
    const body = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    pieces.length = 0;
    if (this.handler !== null) this.passBody(body);
  }

  private passBody(chunk: Buffer): void {
    const handler = this.handler as ExchangeHandler;
    const decoding = this.decoding;
    if (decoding === undefined) return handler.onResponseData(this, chunk);
    decoding.write(chunk);
  }

  onComplete(trailers: string[] | undefined): void {
    if (this.handler === null) return;
    if (this.reading) {
      // Whether the connection can carry another request depends on the rest of this read:
      // decided in onSocketData once the parser has returned.
      this.completedInRead = true;
      this.completedTrailers = trailers;
      return;
    }
    this.responseComplete(trailers);
  }

  /** The upstream's response is all in: the exchange ends, after the decoder (if any) has emptied. */
  private responseComplete(trailers: string[] | undefined): void {
    const decoding = this.decoding;
    if (decoding === undefined) return this.endExchange(trailers);
    decoding.end(trailers);
  }

  /** The response is whole (its decoded body all out, when it had codings): the exchange ends. */
  endExchange(trailers: string[] | undefined): void {
    const handler = this.handler;
    if (handler === null) return;
    // A response that ends while the request body is still going out leaves the upstream
    // expecting the rest: this connection cannot carry another request.
    if (this.pump?.sending) {
      this.stopBody();
      this.reusable = false;
    }
    this.end();
    // Paused by a slow client in the response's last read: a parked socket must read again,
    // for the next response and to notice the upstream closing it.
    if (this.socket.isPaused()) this.socket.resume();
    if (this.reusable && this.idleLimit > 0 && !this.closed) this.owner.release(this);
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
    this.stopBody();
    this.decoding?.destroy();
    this.decoding = undefined;
    this.completedInRead = false;
    this.completedTrailers = undefined;
  }

  /** After a 101 the socket carries another protocol: it leaves this connection, and the pool, for good. */
  private handOver(head: ResponseHead, rest: Buffer): void {
    const handler = this.handler as ExchangeHandler;
    this.end();
    this.closed = true;
    this.headClock.stop();
    this.readClock.stop();
    this.idleClock.stop();
    const { socket } = this;
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
    this.owner.discard(this);
    if (handler.onUpgrade) handler.onUpgrade(upstreamHeadOf(head), socket, rest);
    else socket.destroy();
  }

  // ── the socket ───────────────────────────────────────────────────────────────────

  private readonly onSocketData = (data: Buffer): void => {
    if (this.handler === null) {
      // Bytes nobody asked for: the upstream is confused, the connection cannot be trusted.
      this.stray(data.length);
      this.destroy();
      return;
    }
    let failure: Failure | undefined;
    this.reading = true;
    try {
      failure = this.parser.execute(data);
      this.reading = false;
      if (failure === undefined) this.flushPieces();
      else this.pieces.length = 0;
      // Bytes after a complete response (in this read or a later one): a second answer to one
      // request. Whoever waits for a connection, this one is not to be trusted with it.
      if (this.parser.leftover > 0) {
        this.reusable = false;
        // (After a 101 they are the new protocol's, not stray.)
        if (this.switched === null) this.stray(this.parser.leftover);
      }
      if (this.completedInRead) {
        this.completedInRead = false;
        if (failure === undefined) this.responseComplete(this.completedTrailers);
      } else if (failure === undefined && this.head !== null && this.handler !== null) {
        // A response not over when its read is: the read clock runs from here (one whose head
        // and end came in one read, as most small ones do, needs none).
        this.readClock.setIn(this.timeouts.read);
      }
    } catch (err) {
      // A bug in a handler must cost one request, not the process.
      failure = new Failure('proxy_internal_error', 'internal error while proxying', { cause: err });
    } finally {
      this.reading = false;
      this.pieces.length = 0;
    }
    if (failure !== undefined) return this.abort(failure);
    if (this.switched !== null)
      return this.handOver(this.switched, data.subarray(data.length - this.parser.leftover));
    if (this.parser.leftover > 0 && this.handler === null) this.destroy();
  };

  /** Bytes past a complete response: the connection closes for them, and says so (once). */
  private stray(bytes: number): void {
    if (this.strayTold) return;
    this.strayTold = true;
    this.strayBytes?.(this.authority, bytes);
  }

  private readonly onSocketEnd = (): void => {
    // The upstream closed an idle connection: closed here too, at once. Left to Node, the
    // socket stays undestroyed until its own FIN has gone out (a turn of the loop or more), and
    // a request taking it from the pool meanwhile is written after the upstream's FIN: it fails
    // unsent, and a POST is not retried (the failure says the request may have been sent).
    if (this.handler === null) return this.destroy();
    // The response is whole, only the decoder is still at work: this is not a cut.
    if (this.decoding?.tail === true) return;
    const state = this.parser.finish();
    if (state === 'complete') return; // a close-delimited body, ended cleanly (onComplete ran)
    // Failed now, the socket is destroyed with the request still in it: Node would end its side
    // on the next tick, and that end would flush the request after the upstream's close.
    this.fail(state, state === 'idle' && this.requestUnsent());
  };

  /**
   * None of the current request has left for the upstream: the socket is still corked for the
   * end of the turn in which dispatch() wrote it, so not a byte of it reached the kernel. (A
   * count of bytes written would not do: a write the kernel took in part counts as not written
   * until all of it is taken.)
   */
  private requestUnsent(): boolean {
    return this.socket.writableCorked > 0;
  }

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    this.socketError = err;
    if (this.handler !== null && !this.parser.started) this.unsentAtError = this.requestUnsent();
    // node:tls reports an error after its handshake (a record that is no TLS record) and leaves
    // the socket open: the connection is over all the same, and its 'close' names how it ended.
    this.socket.destroy();
  };

  private readonly onSocketClose = (): void => {
    const first = !this.closed;
    this.closed = true;
    // Every clock's timer let go: a pending one would hold the closed connection until it fired.
    this.idleClock.stop();
    this.headClock.stop();
    this.readClock.stop();
    if (this.handler !== null && this.decoding?.tail !== true) {
      // A reset ends even a close-delimited body uncleanly: it may have been cut anywhere.
      if (this.head !== null) this.fail('body');
      else if (this.parser.inHead) this.fail('head');
      else this.fail('idle', this.unsentAtError);
    }
    if (first) this.owner.discard(this);
  };

  /**
   * The connection ended under an exchange: what that means depends on how far the response got,
   * and, before any of it, whether any of the request had left (`unsent`: none had).
   */
  private fail(state: 'idle' | 'head' | 'body', unsent = false): void {
    const elapsed = performance.now() - this.startedAt;
    this.abort(connectionEnded(state, this.socketError, elapsed, this.head?.framing, unsent));
  }

  // A timer that fires looks again after the poll (setImmediate): see exchange-timers.ts.

  private readonly onHeadTimeout = (): void => {
    if (this.handler === null || this.head !== null) return;
    setImmediate(this.confirmHeadTimeout, this.requests);
  };

  private readonly confirmHeadTimeout = (exchange: number): void => {
    if (this.handler === null || this.head !== null || this.requests !== exchange) return;
    this.abort(headTimedOut(this.sentAt, this.requestWaiting(), this.headSoFar()));
  };

  private readonly onReadTimeout = (): void => {
    if (this.handler === null || this.head === null || this.socket.isPaused()) return;
    setImmediate(this.confirmReadTimeout, this.requests, this.bodyPieces);
  };

  private readonly confirmReadTimeout = (exchange: number, pieces: number): void => {
    if (this.handler === null || this.requests !== exchange || this.bodyPieces !== pieces) return;
    // All of the body is in: what remains is the decoder's work, not the upstream's silence.
    if (this.decoding?.tail === true || this.socket.isPaused()) return;
    this.abort(bodyStalled(this.timeouts.read, this.startedAt));
  };

  // ── the pool's side ──────────────────────────────────────────────────────────────

  /** Parked in the pool: closed after idleLimit unless a request takes it first. */
  park(): void {
    this.idleClock.setIn(this.idleLimit);
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
    return this.idleClock.passed(now);
  }

  private readonly onIdleTimeout = (): void => {
    if (this.handler === null) this.destroy();
  };

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** What every request on a connection that carried one before is told of it (no object a request). */
const REUSED: ConnectionFacts = Object.freeze({ connectMs: 0, reused: true });

export interface ConnectionOptions {
  /** The target's host[:port]: the Host of a request that came without one (HTTP/1.0 clients). */
  readonly authority: string;
  /**
   * Told (target's host[:port], bytes) when the upstream sent bytes past a complete response or
   * while no request was out: the connection is closed for them, never reused (framing in doubt).
   */
  readonly strayBytes?: (target: string, bytes: number) => void;
  readonly timeouts: ConnectionTimeouts;
  readonly idleTimeout: number;
  readonly maxHeaderSize: number;
}

/** The protocols an upgrade request offers: its Upgrade field ("" when it has none: no 101 is then taken). */
function offeredUpgrade(request: ExchangeRequest): string {
  const { headers } = request;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'upgrade') return headers[i + 1];
  return '';
}
