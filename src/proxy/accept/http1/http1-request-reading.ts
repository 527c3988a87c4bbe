/**
 * The request-reading side of a client connection of the HTTP/1.1 server: the strict parser
 * and what it reports (a head, body bytes, the end), the body's stream, the exchange made at
 * each head and handed to the server, what the client pipelined behind it kept aside
 * (http1-pipeline.ts), the refusals of what the parser rejects, and the waits of a head and a
 * body (http1-timeouts.ts). The connection (http1-connection.ts) extends it with its socket's
 * events, its answers' side and its closes: one object per connection, split in two files,
 * not in two objects (a connection that serves one request and closes makes no more).
 */
import type { Socket } from 'node:net';
import type {
  RequestHead,
  RequestParseError,
  RequestParserHandler,
} from '../../../core/http1/parsed-request.ts';
import { RequestParser } from '../../../core/http1/request-parser.ts';
import { clientAddressOf } from '../../../core/net/client-address.ts';
import { kept } from '../../../core/net/direct-reads.ts';
import { type ConnectionSni, type SwitchedConnection, servernameOf } from '../../../core/net/downstream.ts';
import { Http1Answer } from './http1-answer.ts';
import type {
  AnswerOwner,
  ConnectionState,
  Http1Handlers,
  Http1Settings,
  UnservedWhy,
} from './http1-connection-setup.ts';
import { http1DownstreamHead } from './http1-downstream-head.ts';
import { Pipeline, type PipelinedConnection } from './http1-pipeline.ts';
import { Http1Timeouts, type TimedConnection } from './http1-timeouts.ts';
import { BodyStream } from './request-body-stream.ts';
import { TurnWrites } from './turn-writes.ts';
import { toldUnserved, wholeRequestsIn } from './unserved-requests.ts';

export abstract class Http1RequestReading
  implements RequestParserHandler, AnswerOwner, TimedConnection, PipelinedConnection
{
  readonly socket: Socket;
  protected readonly settings: Http1Settings;
  /** The server's handlers: the connection they are given is always the Http1Connection extending this. */
  readonly #handlers: Http1Handlers<Http1RequestReading>;
  protected readonly parser: RequestParser;
  protected readonly encrypted: boolean;
  protected connectionState: ConnectionState = 'head';
  /** The head, body, keep-alive or linger wait: one deadline moved, no timer made per request. */
  protected readonly timeouts: Http1Timeouts;
  /** What the client pipelined behind the request being answered (made at its first such bytes). */
  protected pipeline: Pipeline | undefined;
  /** Bytes of the request being read or answered that the parser took (read ahead for the next one aside). */
  #requestBytes = 0;
  /**
   * When the head being read began arriving (performance.now()), noted once it did not come
   * whole in its first read: a refusal's record (a 408 above all) counts its total from there.
   */
  #headFrom: number | undefined;
  protected body: BodyStream | undefined;
  protected exchange: Http1Answer | undefined;
  protected head: RequestHead | undefined;
  /** An exchange whose head was parsed during the current read: handed over once the read is parsed. */
  #ready: Http1Answer | undefined;
  protected requestComplete = false;
  /** A request has started on this connection (a connection that never sent a byte is closed silently). */
  #spoke = false;
  #paused = false;
  /** The connection closes after the current response (a drain, broken framing, a body left unread). */
  protected afterAnswer = false;
  /**
   * The client's address (a PROXY header's, marked before the connection was made) and its TLS
   * server name: facts of the connection, read at its first request, not again at every one.
   */
  #remoteAddress: string | undefined;
  #sni: ConnectionSni = {};
  /** Its answers' writes, gathered until the turn's end (made at the first request, kept for the next). */
  #writes: TurnWrites | undefined;

  constructor(
    socket: Socket,
    settings: Http1Settings,
    handlers: Http1Handlers<Http1RequestReading>,
    encrypted: boolean,
  ) {
    this.socket = socket;
    this.settings = settings;
    this.#handlers = handlers;
    this.encrypted = encrypted;
    // The settings hold the parser's limits (headerSize, uriLength): no copy of them made.
    this.parser = new RequestParser(this, settings);
    this.timeouts = new Http1Timeouts(this, socket, settings);
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** The bytes of the request being read or answered (or refused) taken from the socket: its head and body as they came. */
  get requestBytes(): number {
    return this.#requestBytes;
  }

  /** When the head being read began arriving, if it took more than one read (performance.now()). */
  get headFrom(): number | undefined {
    return this.#headFrom;
  }

  /** After a refusal: the refused head as far as it came (latin1), to name the request in the answer and the log. */
  get refusedHead(): string {
    return this.parser.refusedHead;
  }

  /** The parser holds a whole request: what comes after it waits. */
  get requestParsed(): boolean {
    return this.parser.complete;
  }

  // What the connection's other side does (http1-connection.ts).
  abstract close(): void;
  abstract answerStarted(): void;
  abstract answerFinished(close: boolean, doubted: boolean): void;
  abstract answerLeaving(): void;
  abstract answerAborted(reset: boolean): void;
  abstract answerSwitched(): SwitchedConnection;

  // ── reading ──────────────────────────────────────────────────────────────────────

  /** An idle connection begins its next request's head. */
  nextHead(): void {
    this.connectionState = 'head';
    this.#requestBytes = 0;
    this.#headFrom = undefined;
    this.timeouts.head();
  }

  /** Parses a read of the request in progress (the pipeline's kept ones too). */
  parseRead(chunk: Buffer): void {
    if (this.parser.complete) return this.readAhead(chunk);
    this.#spoke = true;
    const error = this.parser.execute(chunk);
    // What the parser took is this request's (a refused one's too); the rest is the next one's.
    this.#requestBytes += chunk.length - this.parser.leftover;
    const ready = this.#ready;
    this.#ready = undefined;
    if (error !== undefined) {
      // A head and a framing error in the same read: refused as a whole, never handed over
      // (the handler would start forwarding a request already known to be broken).
      if (ready !== undefined) {
        this.body = undefined;
        this.exchange = undefined;
        return this.refused({ ...error, inBody: false });
      }
      return this.#failed(error);
    }
    // A head begun and not whole: its start, for its request's total, or its refusal's (most
    // heads come in one read).
    if (this.connectionState === 'head' && this.#headFrom === undefined && this.parser.started)
      this.#headFrom = performance.now();
    const left = this.parser.leftover;
    if (left > 0) this.readAhead(chunk.subarray(chunk.length - left));
    if (ready !== undefined) this.#hand(ready);
  }

  /** Bytes past the request in progress: kept, unparsed, for their turn. */
  protected readAhead(chunk: Buffer): void {
    this.pipeline ??= new Pipeline(this);
    // A read straight from the socket is a view the next read overwrites (direct-reads.ts).
    this.pipeline.keep(kept(chunk));
  }

  #hand(exchange: Http1Answer): void {
    try {
      this.#handlers.request(exchange, this);
    } catch (err) {
      // A bug in the handler must cost this connection, never the process.
      this.socket.destroy();
      process.emitWarning(`candor: a request handler threw: ${(err as Error).stack}`);
    }
  }

  #failed(error: RequestParseError): void {
    if (error.inBody && this.body !== undefined) {
      // The body of a request already handed over broke: its handler answers (through the
      // body's error), and the connection's framing is lost: it closes after that answer.
      this.closeAfterAnswer();
      this.timeouts.disarm();
      this.body.fail(error.details, error.code, error.status);
      return;
    }
    this.refused(error);
  }

  /** A refusal before any exchange: nothing more is parsed; the handler answers and closes. */
  protected refused(error: RequestParseError): void {
    this.timeouts.disarm();
    this.connectionState = 'closing';
    this.#handlers.refused(this, error, this.head);
  }

  /** The requests pipelined behind one whose connection was cut (`why`): each read whole is told, never served. */
  protected unserved(why: UnservedWhy): void {
    const unserved = this.#handlers.unserved;
    if (unserved === undefined || this.pipeline?.waiting !== true) return;
    for (const request of toldUnserved(wholeRequestsIn(this.pipeline.take(), this.settings)))
      unserved(this, request, why);
  }

  /** The route's body limit, for a chunked body (RequestParser.limitBody): the refusal's words when already past it. */
  limitBody(limit: number): string | undefined {
    const error = this.parser.limitBody(limit);
    if (error !== undefined) this.#failed(error);
    return error?.details;
  }

  /** The body's reader wants more: the socket is read again unless pipelined bytes fill the read-ahead. */
  bodyWanted(): void {
    if (this.pipeline?.full !== true) this.resumeReading();
  }

  pauseReading(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // The wait for the client's next bytes (a body's) starts again: it is not the client's
    // silence while the gateway was not reading. (Read through node's Readable, the bytes it had
    // read ahead came at once and restarted it; read straight from the socket, the next come
    // with the next read, a wait that under load passed the rest of body_idle_timeout: a 408.)
    this.timeouts.refresh();
    this.socket.resume();
  }

  /**
   * A drain that began while this connection was on its way (a TLS handshake, a PROXY header),
   * or a request whose framing or body broke: the connection closes after the current response,
   * which says `Connection: close` if its head has not gone out yet.
   */
  closeAfterAnswer(): void {
    this.afterAnswer = true;
    this.exchange?.closeAfter();
  }

  // ── the parser's side ────────────────────────────────────────────────────────────

  onHead(head: RequestHead): void {
    this.head = head;
    this.requestComplete = false;
    this.connectionState = 'body';
    const hasBody = head.framing !== 'none';
    if (hasBody) this.timeouts.body();
    // A stream only for a request that has a body: most have none.
    const body = hasBody ? new BodyStream(this) : undefined;
    this.body = body;
    if (this.#remoteAddress === undefined) {
      this.#remoteAddress = clientAddressOf(this.socket);
      this.#sni = servernameOf(this.socket);
    }
    const downstream = http1DownstreamHead(
      head,
      this.socket,
      this.#remoteAddress,
      this.#sni,
      this.encrypted,
      this.#headFrom,
    );
    this.#writes ??= new TurnWrites(this.socket);
    const answer = new Http1Answer(this.socket, this.#writes, this, downstream, body, {
      headRequest: head.method === 'HEAD',
      versionMinor: head.versionMinor,
      // What follows an upgrade request the upstream declined may be the new protocol's bytes.
      close: !head.keepAlive || this.afterAnswer || head.upgrade,
      expectContinue: downstream.expectContinue && hasBody,
      keepAliveSeconds: Math.floor(this.settings.keepAliveTimeout / 1000),
      sendTimeout: this.settings.sendTimeout,
    });
    this.exchange = answer;
    this.#ready = answer;
  }

  onBody(chunk: Buffer): void {
    this.timeouts.refresh();
    if (this.body !== undefined && !this.body.push(kept(chunk))) this.pauseReading();
  }

  onComplete(trailers: string[] | undefined): void {
    this.requestComplete = true;
    this.exchange?.bodyDone();
    if (this.connectionState === 'body') {
      this.connectionState = 'waiting';
      this.timeouts.disarm();
    }
    const body = this.body;
    if (body !== undefined) {
      body.trailers = trailers;
      body.push(null);
    }
  }

  // ── the waits that passed (http1-timeouts.ts) ───────────────────────────────────────

  /** No whole head within header_timeout. */
  headTimedOut(): void {
    // A connection that never sent a byte (a preconnect, a scan) made no request: no answer.
    if (!this.parser.started && !this.#spoke) return void this.socket.destroy();
    if (!this.parser.started) return this.close();
    this.refused(
      this.parser.abandon(
        408,
        'ERR_HTTP_REQUEST_TIMEOUT',
        `the request was not received in time: its head not whole within ${this.timeouts.headTimeout} ms (limits.header_timeout)`,
      ),
    );
  }

  /** No body bytes within body_idle_timeout. */
  bodyStalled(): void {
    const state = this.connectionState;
    if (state !== 'body' && !(state === 'writing' && !this.requestComplete)) return;
    // Not read because its reader (an upstream slow to take it) is not taking it: not the client's silence.
    if (this.#paused) {
      this.timeouts.refresh();
      return;
    }
    this.closeAfterAnswer();
    this.body?.fail(
      `request body stalled for ${this.timeouts.bodyIdleTimeout} ms (limits.body_idle_timeout)`,
      'ERR_BODY_IDLE',
      408,
    );
  }
}
