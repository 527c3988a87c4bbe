/**
 * Candor's downstream HTTP/2 server: node:http2 sessions on sockets the listener hands over
 * (h2c after the connection preface, h2 after ALPN: h2-preface.ts), never listening itself.
 * Every stream becomes a DownstreamExchange, so the request session runs it as it runs an
 * HTTP/1.1 request; every connection has its guard (h2-guard.ts), which keeps its idle timeout.
 */
import http2, { type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Failure } from '../../../core/failure/failure.ts';
import type { RequestParseError } from '../../../core/http1/parsed-request.ts';
import { firstHeadTime } from '../../../core/net/accepted-at.ts';
import type { BufferBudget } from '../../../core/net/buffer-budget.ts';
import type { DownstreamExchange, DrainCut } from '../../../core/net/downstream.ts';
import { lingerAfterFin } from '../../../core/net/linger.ts';
import { OpenList } from '../open-list.ts';
import { H2Answer } from './h2-answer.ts';
import { H2Body } from './h2-body.ts';
import type { H2Logger } from './h2-bound.ts';
import { H2Guard } from './h2-guard.ts';
import { type H2Limits, nodeH2Options } from './h2-limits.ts';
import { type H2DownstreamHead, h2Refusal, h2RequestHead, protocolBreach } from './h2-request.ts';

export interface H2Handlers {
  /** A stream's head is in: the exchange is the handler's until its response finishes or aborts. */
  request(exchange: DownstreamExchange): void;
  /**
   * A stream refused before the session runs it (what the HTTP/1.1 parser refuses: a target
   * past `uriLength`, a Host that contradicts `:authority`): the handler answers
   * on the exchange's sink, as it answers an HTTP/1.1 refusal.
   */
  refused(exchange: DownstreamExchange, error: RequestParseError): void;
  /** A stream on a connection its client had no right to open (`limits.per_client`): answered with this failure. */
  overLimit(exchange: DownstreamExchange, failure: Failure): void;
  /** `limits.body_idle_timeout` now (a reload may change it): how long a request body may stay silent. */
  bodyIdleTimeout?(): number;
  /**
   * `limits.header_timeout` now (a reload may change it): how long a connection may take to send
   * its SETTINGS, which end its preface (RFC 9113 §3.4), as an HTTP/1.1 one has for its head.
   */
  headerTimeout(): number;
}

export interface H2Server {
  readonly http2: Http2Server;
  /** Sessions open now. */
  readonly sessions: ReadonlySet<ServerHttp2Session>;
  /**
   * Takes a connection: a plain socket whose next bytes are the preface, or a TLS socket that
   * chose h2. With `refusal`, its client is over a limit: its first stream is answered with it
   * and the session gets GOAWAY (so it closes once that answer is out).
   */
  accept(socket: Socket, refusal?: Failure): void;
  /** A drain's first step: GOAWAY NO_ERROR on every session; each closes once its streams are answered. */
  closeWhenIdle(): void;
  /**
   * A drain's cut, first step: resets every response still open INTERNAL_ERROR (each says
   * `cutByDrain`, and why; a gRPC call is only marked, H2Answer.cutByTheDrain); returns how many
   * were reset. Their RST_STREAM frames leave with node:http2's next write, queued for the end
   * of this turn: the sockets and sessions must wait for it.
   */
  cutStreams(why: DrainCut): number;
  /**
   * A drain's cut (its deadline passed, or a second signal): destroys every session still open
   * (each response still open says `cutByDrain`, and why); returns how many.
   */
  destroyAll(why: DrainCut): number;
}

const ignore = (): void => {};

/** A stream's exchange: a class, so that its getter is the prototype's and not made again a stream. */
class H2Exchange implements DownstreamExchange {
  readonly head: H2DownstreamHead;
  readonly body: H2Body | undefined;
  readonly answer: H2Answer;
  readonly budget: BufferBudget;

  constructor(head: H2DownstreamHead, body: H2Body | undefined, answer: H2Answer, budget: BufferBudget) {
    this.head = head;
    this.body = body;
    this.answer = answer;
    this.budget = budget;
  }

  get bodyComplete(): boolean {
    return this.body === undefined || this.body.complete;
  }

  get bytesRead(): number {
    return this.head.headerListSize + (this.body === undefined ? 0 : this.body.received);
  }
}

export function createH2Server(limits: H2Limits, handlers: H2Handlers, logger: H2Logger): H2Server {
  const sessions = new Set<ServerHttp2Session>();
  const server = http2.createServer(nodeH2Options(limits));
  /** Responses not yet over, for the drain deadline to mark before it cuts them. */
  const open = new OpenList<H2Answer>();
  /** The refusal of the connection being accepted: node:http2 makes its session synchronously. */
  let accepting: Failure | undefined;
  /** The socket being accepted, for its guard: the session's own `socket` may not be destroyed. */
  let acceptingSocket: Socket | undefined;
  let closing = false;
  const context: StreamContext = { limits, handlers, open };

  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // From the accept where a stage marked it (a plain socket's preface reader, h2-preface.ts):
    // the wait for the preface is part of the time for the preface and SETTINGS.
    const prefaceMs =
      acceptingSocket === undefined
        ? handlers.headerTimeout()
        : firstHeadTime(acceptingSocket, handlers.headerTimeout());
    const guard = new H2Guard(session, limits, logger, prefaceMs, open, acceptingSocket);
    const connection: StreamConnection = { session, guard, overLimit: accepting };
    if (closing) session.close();
    // The session's own event, not the server's: a stream node:http2 has already destroyed
    // (below) no longer names its session, and its guard is still owed its request.
    session.on('stream', (stream: ServerHttp2Stream, _headers, flags: number, rawHeaders: string[]) =>
      onStream(context, connection, stream, flags, rawHeaders),
    );
  });

  return {
    http2: server,
    sessions,
    accept(socket, refusal) {
      // A session closed (GOAWAY, at its idle timeout, a drain, a flood) waits for the client's
      // FIN LINGER_MS at most, as an HTTP/1.1 connection's lingering close does.
      lingerAfterFin(socket);
      accepting = refusal;
      acceptingSocket = socket;
      try {
        server.emit('connection', socket);
      } finally {
        accepting = undefined;
        acceptingSocket = undefined;
      }
    },
    closeWhenIdle() {
      closing = true;
      for (const session of sessions) session.close();
    },
    cutStreams(why) {
      // A copy: an answer may leave the list as it is cut.
      let reset = 0;
      for (const answer of [...open.values()]) if (answer.cutByTheDrain(why)) reset++;
      return reset;
    },
    destroyAll(why) {
      const count = sessions.size;
      this.cutStreams(why);
      for (const session of sessions) session.destroy();
      return count;
    },
  };
}

/** What every stream of a server is served with: made once a server, not a stream. */
interface StreamContext {
  readonly limits: H2Limits;
  readonly handlers: H2Handlers;
  /** Responses not yet over, for the drain deadline to mark before it cuts them. */
  readonly open: OpenList<H2Answer>;
}

/** What every stream of one connection is served with: made once a connection, its state kept on it (not in a map by session). */
interface StreamConnection {
  readonly session: ServerHttp2Session;
  readonly guard: H2Guard;
  /** Its client was over a limit when it connected: each of its streams is answered with this. */
  readonly overLimit: Failure | undefined;
}

/** A stream's head is in: its exchange goes to the handlers, or is refused. */
function onStream(
  { limits, handlers, open }: StreamContext,
  { session, guard, overLimit }: StreamConnection,
  stream: ServerHttp2Stream,
  flags: number,
  rawHeaders: string[],
): void {
  // A stream refused or cut before a sink listens must not throw its error at the process.
  stream.on('error', ignore);
  // A head that came in whole with a frame nghttp2 refused (DATA past its content-length, in
  // the same read): the connection is closed for it before the stream is handed over. Nothing
  // can answer it, but the gateway read a request: it gets its log line, the client's 400.
  const breach = stream.destroyed ? protocolBreach(stream, 'as its request came in') : undefined;
  if (breach === undefined && !guard.admit(stream)) return;
  const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || stream.endAfterHeaders;
  const head = h2RequestHead(rawHeaders, stream.id ?? 0, endStream, guard.connectionFacts());
  // Leaves `open` as its stream closes (H2Guard.streamClosed).
  const answer = new H2Answer(stream, guard, head, limits.sendTimeout, guard.admittedAt);
  open.add(answer);
  const announced = typeof head.bodyLength === 'number' ? head.bodyLength : undefined;
  const body =
    endStream || breach !== undefined
      ? undefined
      : new H2Body(stream, guard, handlers.bodyIdleTimeout?.(), announced, limits);
  answer.requestBody = body;
  // A response complete before its request body was read (a 404 or a refusal, answered
  // before the body is wanted): node:http2 closes a stream only once its readable side has
  // ended too, so what is left of the body is read and dropped (H2Body's destroy) and the
  // stream closes, and the session logs the request. The HTTP/1.1 server closes such a
  // connection instead.
  if (body !== undefined)
    stream.once('finish', () => {
      if (!body.complete && !body.destroyed) body.destroy();
    });
  const exchange = new H2Exchange(head, body, answer, guard.budget);
  if (breach !== undefined)
    return handlers.refused(exchange, {
      status: 400,
      code: 'ERR_HTTP2_ERROR',
      details: breach,
      inBody: true,
    });
  if (overLimit !== undefined) {
    session.close();
    return handlers.overLimit(exchange, overLimit);
  }
  const refusal = h2Refusal(rawHeaders, head, limits);
  if (refusal === undefined) handlers.request(exchange);
  else handlers.refused(exchange, refusal);
}
