/**
 * One client connection of Candor's own HTTP/1.1 server: the socket, the strict request
 * parser, and an explicit state machine that owns every per-connection fact (no module maps
 * keyed by socket).
 *
 *   head ──(head parsed)──▶ body ──(body complete)──▶ waiting ──(response head)──▶ writing
 *     ▲                        └──────────────(response head before the body's end)──┘   │
 *     │                                                                                  │
 *   idle ◀──────────────────────(response finished, keep-alive)───────────────────────────┘
 *   any ──(refusal, Connection: close, HTTP/1.0, a body left unread, a timeout)──▶ closing ──▶ closed
 *
 * One request at a time: what a client pipelines behind it waits its turn (http1-pipeline.ts).
 * Every wait has a deadline (http1-timeouts.ts), a close too: a lingering close (RFC 9112 §9.6)
 * sends our FIN, reads and drops what the client still sends, and destroys the socket at its FIN
 * or at LINGER_MS, whatever the client does.
 */
import type { Socket } from 'node:net';
import type {
  RequestHead,
  RequestParseError,
  RequestParserHandler,
} from '../../../core/http1/parsed-request.ts';
import { RequestParser } from '../../../core/http1/request-parser.ts';
import { firstHeadTime } from '../../../core/net/accepted-at.ts';
import { clientAddressOf } from '../../../core/net/client-address.ts';
import { servernameOf } from '../../../core/net/downstream.ts';
import { lingeringClose } from '../../../core/net/linger.ts';
import { closeWhenIdle, cutAnswer, cutAtDrainDeadline, type DrainedConnection } from './http1-closing.ts';
import type {
  ConnectionState,
  Http1Handlers,
  Http1Settings,
  PriorKnowledge,
  ResponseOwner,
} from './http1-connection-setup.ts';
import { http1DownstreamHead } from './http1-downstream-head.ts';
import { Pipeline, type PipelinedConnection } from './http1-pipeline.ts';
import { Http1Response } from './http1-response.ts';
import { Http1Timeouts, type TimedConnection } from './http1-timeouts.ts';
import { BodyStream } from './request-body-stream.ts';

export class Http1Connection
  implements RequestParserHandler, ResponseOwner, TimedConnection, PipelinedConnection, DrainedConnection
{
  readonly socket: Socket;
  readonly #settings: Http1Settings;
  readonly #handlers: Http1Handlers<Http1Connection>;
  readonly #parser: RequestParser;
  readonly #encrypted: boolean;
  #state: ConnectionState = 'head';
  /** The head, body, keep-alive or linger wait: one deadline moved, no timer made per request. */
  readonly #timeouts: Http1Timeouts;
  /** close() ran: our FIN is out, the lingering close's deadline runs. */
  #closing = false;
  /** The connection closes after the current response (a drain, broken framing, a body left unread). */
  #afterResponse = false;
  /** What the client pipelined behind the request being answered (made at its first such bytes). */
  #pipeline: Pipeline | undefined;
  /** Bytes of the request being read or answered that the parser took (read ahead for the next one aside). */
  #requestBytes = 0;
  #body: BodyStream | undefined;
  #response: Http1Response | undefined;
  #head: RequestHead | undefined;
  /** An exchange whose head was parsed during the current read: handed over once the read is parsed. */
  #ready: Http1Response | undefined;
  #requestComplete = false;
  /** A request has started on this connection (a connection that never sent a byte is closed silently). */
  #spoke = false;
  #paused = false;
  /** The answer ended before the request's body: what the client still sends of it is dropped (responseLeaving). */
  #dropping = false;
  /**
   * The client's address (a PROXY header's, marked before the connection was made) and its TLS
   * server name: facts of the connection, read at its first request, not again at every one.
   */
  #remoteAddress: string | undefined;
  #servername: string | undefined;

  /** Told once the socket has closed, or was handed to HTTP/2 (the server's set of connections forgets it). */
  readonly #gone: ((connection: Http1Connection) => void) | undefined;
  /** Until the first bytes are in: where a connection that may be h2c goes (absent: HTTP/1.1 only). */
  #priorKnowledge: PriorKnowledge | undefined;

  constructor(
    socket: Socket,
    settings: Http1Settings,
    handlers: Http1Handlers<Http1Connection>,
    encrypted = false,
    gone?: (connection: Http1Connection) => void,
    priorKnowledge?: PriorKnowledge,
  ) {
    this.socket = socket;
    this.#gone = gone;
    this.#priorKnowledge = priorKnowledge;
    this.#settings = settings;
    this.#handlers = handlers;
    this.#encrypted = encrypted;
    // The settings hold the parser's limits (headerSize, uriLength): no copy of them made.
    this.#parser = new RequestParser(this, settings);
    this.#timeouts = new Http1Timeouts(this, socket, settings);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#destroy);
    // Counted from the accept when a stage read the connection first (the PROXY gate).
    this.#timeouts.head(firstHeadTime(socket, settings.headerTimeout));
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The bytes of the request being read or answered (or refused) taken from the socket: its head and body as they came. */
  get requestBytes(): number {
    return this.#requestBytes;
  }

  /** After a refusal: the refused head as far as it came (latin1), to name the request in the answer and the log. */
  get refusedHead(): string {
    return this.#parser.refusedHead;
  }

  // ── reading ──────────────────────────────────────────────────────────────────────

  readonly #destroy = (): void => {
    this.socket.destroy();
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#priorKnowledge !== undefined && this.#toH2(chunk)) return;
    switch (this.#state) {
      case 'closing':
        // A lingering close reads and drops: the client's bytes must not turn into a reset.
        return;
      case 'idle':
        // Pipelined bytes read before are waiting for their turn (it is scheduled): what comes
        // now goes behind them. Parsed now, a later request would be answered before them.
        if (this.#pipeline?.waiting === true) return this.#readAhead(chunk);
        this.nextHead();
        break;
      case 'waiting':
      case 'writing':
        if (this.#requestComplete) return this.#readAhead(chunk);
        if (this.#dropping) return;
        break;
    }
    this.#parse(chunk);
  };

  /** An idle connection begins its next request's head. */
  nextHead(): void {
    this.#state = 'head';
    this.#requestBytes = 0;
    this.#timeouts.head();
  }

  /** Parses a read of the request in progress (the pipeline's kept ones too). */
  parseRead(chunk: Buffer): void {
    this.#parse(chunk);
  }

  #parse(chunk: Buffer): void {
    if (this.#parser.complete) return this.#readAhead(chunk);
    this.#spoke = true;
    const error = this.#parser.execute(chunk);
    // What the parser took is this request's (a refused one's too); the rest is the next one's.
    this.#requestBytes += chunk.length - this.#parser.leftover;
    const ready = this.#ready;
    this.#ready = undefined;
    if (error !== undefined) {
      // A head and a framing error in the same read: refused as a whole, never handed over
      // (the handler would start forwarding a request already known to be broken).
      if (ready !== undefined) {
        this.#body = undefined;
        this.#response = undefined;
        return this.#refused({ ...error, inBody: false });
      }
      return this.#failed(error);
    }
    const left = this.#parser.leftover;
    if (left > 0) this.#readAhead(chunk.subarray(chunk.length - left));
    if (ready !== undefined) this.#hand(ready);
  }

  /**
   * The first bytes of a connection on a listener that serves h2c: one that may be HTTP/2
   * leaves (nothing of this connection touches it again), those bytes put back for its reader.
   */
  #toH2(first: Buffer): boolean {
    const priorKnowledge = this.#priorKnowledge as PriorKnowledge;
    this.#priorKnowledge = undefined;
    if (!priorKnowledge.mayBeH2(first)) return false;
    this.#leave();
    this.#state = 'closed';
    this.#gone?.(this);
    const socket = this.socket;
    socket.pause();
    socket.unshift(first);
    priorKnowledge.take(socket);
    // pause() stopped the flow; the new reader's 'data' listener would not restart it.
    socket.resume();
    return true;
  }

  /** This connection lets go of its socket: its listeners and timers. */
  #leave(): void {
    this.#timeouts.release();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onClose);
  }

  #readAhead(chunk: Buffer): void {
    this.#pipeline ??= new Pipeline(this);
    this.#pipeline.keep(chunk);
  }

  /** The parser holds a whole request: what comes after it waits. */
  get requestParsed(): boolean {
    return this.#parser.complete;
  }

  #hand(exchange: Http1Response): void {
    try {
      this.#handlers.request(exchange, this);
    } catch (err) {
      // A bug in the handler must cost this connection, never the process.
      this.socket.destroy();
      process.emitWarning(`candor: a request handler threw: ${(err as Error).stack}`);
    }
  }

  #failed(error: RequestParseError): void {
    if (error.inBody && this.#body !== undefined) {
      // The body of a request already handed over broke: its handler answers (through the
      // body's error), and the connection's framing is lost: it closes after that answer.
      this.closeAfterResponse();
      this.#timeouts.disarm();
      this.#body.fail(error.details, error.code, error.status);
      return;
    }
    this.#refused(error);
  }

  /** A refusal before any exchange: nothing more is parsed; the handler answers and closes. */
  #refused(error: RequestParseError): void {
    this.#timeouts.disarm();
    this.#state = 'closing';
    this.#handlers.refused(this, error, this.#head);
  }

  /** The route's body limit, for a chunked body (RequestParser.limitBody): the refusal's words when already past it. */
  limitBody(limit: number): string | undefined {
    const error = this.#parser.limitBody(limit);
    if (error !== undefined) this.#failed(error);
    return error?.details;
  }

  /** The body's reader wants more: the socket is read again unless pipelined bytes fill the read-ahead. */
  bodyWanted(): void {
    if (this.#pipeline?.full !== true) this.resumeReading();
  }

  pauseReading(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  // ── the parser's side ────────────────────────────────────────────────────────────

  onHead(head: RequestHead): void {
    this.#head = head;
    this.#requestComplete = false;
    this.#state = 'body';
    const hasBody = head.framing !== 'none';
    if (hasBody) this.#timeouts.body();
    // A stream only for a request that has a body: most have none.
    const body = hasBody ? new BodyStream(this) : undefined;
    this.#body = body;
    if (this.#remoteAddress === undefined) {
      this.#remoteAddress = clientAddressOf(this.socket);
      this.#servername = servernameOf(this.socket).servername;
    }
    const downstream = http1DownstreamHead(
      head,
      this.socket,
      this.#remoteAddress,
      this.#servername,
      this.#encrypted,
    );
    const response = new Http1Response(this.socket, this, downstream, body, {
      headRequest: head.method === 'HEAD',
      versionMinor: head.versionMinor,
      // What follows an upgrade request the upstream declined may be the new protocol's bytes.
      close: !head.keepAlive || this.#afterResponse || head.upgrade,
      expectContinue: downstream.expectContinue && hasBody,
      keepAliveSeconds: Math.floor(this.#settings.keepAliveTimeout / 1000),
      sendTimeout: this.#settings.sendTimeout,
    });
    this.#response = response;
    this.#ready = response;
  }

  onBody(chunk: Buffer): void {
    this.#timeouts.refresh();
    if (this.#body !== undefined && !this.#body.push(chunk)) this.pauseReading();
  }

  onComplete(trailers: string[] | undefined): void {
    this.#requestComplete = true;
    this.#response?.bodyDone();
    if (this.#state === 'body') {
      this.#state = 'waiting';
      this.#timeouts.disarm();
    }
    const body = this.#body;
    if (body !== undefined) {
      body.trailers = trailers;
      body.push(null);
    }
  }

  // ── the response's side ──────────────────────────────────────────────────────────

  responseStarted(): void {
    if (this.#state === 'body' || this.#state === 'waiting') this.#state = 'writing';
  }

  responseFinished(close: boolean): void {
    this.#response = undefined;
    this.#body = undefined;
    this.#head = undefined;
    // A body not read whole cannot be told from the next request: the connection closes.
    if (close || this.#afterResponse || !this.#requestComplete) return this.close();
    this.#parser.next();
    this.#state = 'idle';
    this.#timeouts.nextRequest();
    if (this.#pipeline?.waiting === true) this.#pipeline.schedule();
    else this.resumeReading();
  }

  /**
   * The answer ended before the request's body did (its head said close), its rest leaving for a
   * client behind: the rest of the body is read and dropped, as a lingering close does. Left to a
   * reader that is gone, it would stop the socket, and a client that sends its whole body before
   * it reads would wait for the gateway as the gateway waited for it, until send_timeout cut it.
   */
  responseLeaving(): void {
    if (this.#requestComplete) return;
    this.#dropping = true;
    this.#body = undefined;
    this.#timeouts.disarm();
    this.resumeReading();
  }

  responseAborted(reset: boolean): void {
    this.#response = undefined;
    cutAnswer(this.socket, reset, this.#encrypted);
  }

  responseSwitched(): { socket: Socket; rest: Buffer } {
    this.#response = undefined;
    return this.detach();
  }

  // ── refusals, closes, timeouts ───────────────────────────────────────────────────

  /** Answers a refused request with these bytes and closes the connection (lingering, with a deadline). */
  refuse(answer: string | Buffer): void {
    if (this.#closing) return;
    this.socket.write(answer);
    this.close();
  }

  /**
   * Closes the connection after what was written (RFC 9112 §9.6): our FIN, then what the client
   * still sends is read and dropped until its FIN or LINGER_MS, then the socket is destroyed.
   */
  close(): void {
    if (this.#closing || this.#state === 'closed') return;
    this.#closing = true;
    this.#state = 'closing';
    // A closing connection lingers as HTTP/1.1: its late bytes are not handed to HTTP/2.
    this.#priorKnowledge = undefined;
    this.resumeReading();
    lingeringClose(this.socket, this.#timeouts, this.#settings.sendTimeout ?? 0, this.#destroy);
  }

  /**
   * A drain that began while this connection was on its way (a TLS handshake, a PROXY header):
   * the request it came to send is served, saying close (one that sends none ends at the header timeout).
   */
  closeAfterResponse(): void {
    this.#afterResponse = true;
    this.#response?.closeAfter();
  }

  /** A drain: an idle connection closes at once (after one more look), a busy one after its response. */
  closeWhenIdle(): void {
    closeWhenIdle(this);
  }

  /** A drain's deadline: the connection is destroyed, and its exchange knows the gateway did it. */
  cut(): void {
    cutAtDrainDeadline(this);
  }

  get quiet(): boolean {
    return (
      (this.#state === 'idle' && this.#pipeline?.waiting !== true) ||
      (this.#state === 'head' && !this.#parser.started)
    );
  }

  get response(): Http1Response | undefined {
    return this.#response;
  }

  /**
   * An upgrade: the socket leaves HTTP. Returns it with the bytes read after the request's
   * head; nothing of this connection touches it again.
   */
  detach(): { socket: Socket; rest: Buffer } {
    this.#leave();
    // The socket lives on as a tunnel: the server still holds it (a drain's deadline cuts it) until it closes.
    this.socket.once('close', () => this.#gone?.(this));
    this.#state = 'closed';
    const rest = this.#pipeline?.take() ?? Buffer.alloc(0);
    this.resumeReading();
    return { socket: this.socket, rest };
  }

  /** No whole head within header_timeout. */
  headTimedOut(): void {
    // A connection that never sent a byte (a preconnect, a scan) made no request: no answer.
    if (!this.#parser.started && !this.#spoke) return this.#destroy();
    if (!this.#parser.started) return this.close();
    this.#refused(
      this.#parser.abandon(408, 'ERR_HTTP_REQUEST_TIMEOUT', 'the request was not received in time'),
    );
  }

  /** No body bytes within body_idle_timeout. */
  bodyStalled(): void {
    if (this.#state !== 'body' && !(this.#state === 'writing' && !this.#requestComplete)) return;
    // Not read because its reader (an upstream slow to take it) is not taking it: not the client's silence.
    if (this.#paused) {
      this.#timeouts.refresh();
      return;
    }
    this.closeAfterResponse();
    this.#body?.fail(`request body stalled for ${this.#settings.bodyIdleTimeout} ms`, 'ERR_BODY_IDLE', 408);
  }

  readonly #onEnd = (): void => {
    // The client's FIN: a lingering close is over; an idle or unstarted connection closes.
    // A head cut short by it is a request that cannot be whole: refused with its 400 and log
    // line (the client may still read: `printf … | nc -N` without the last CRLF).
    if (this.#state === 'head' && this.#parser.started)
      return this.#refused(
        this.#parser.abandon(
          400,
          'HPE_INVALID_EOF_STATE',
          'the client ended the connection inside the request head',
        ),
      );
    // (Its last answer still leaving: destroyed once it has left, close().)
    if (this.#closing && !this.socket.writableFinished) return;
    if (this.#state === 'closing' || this.#state === 'idle' || this.#state === 'head') return this.#destroy();
    // With a request in flight, the client has left (as node:http and most servers take it:
    // HTTP clients do not half-close and wait): its exchange is cut when the connection closes.
    if (!this.#requestComplete)
      this.#body?.fail('client closed the connection while sending the body', 'ECONNRESET');
    // An answer already under way is cut (never ended by our FIN: a body the close delimits
    // would then read as whole); one ended and still leaving goes on, the connection closing after.
    if (this.#state === 'writing' && this.#response !== undefined) return this.#response.clientEnded();
    this.close();
  };

  readonly #onClose = (): void => {
    this.#state = 'closed';
    this.#timeouts.release();
    this.#response?.connectionClosed();
    if (!this.#requestComplete && this.#body !== undefined && !this.#body.destroyed)
      this.#body.fail('client closed the connection', 'ECONNRESET');
    this.#gone?.(this);
  };
}
