/**
 * Candor's downstream HTTP/2 server: node:http2 sessions on sockets the listener hands over
 * (h2c after the connection preface, h2 after ALPN: h2-preface.ts), never listening itself.
 * Every stream becomes a DownstreamExchange, so the request session runs it as it runs an
 * HTTP/1.1 request; every connection has its guard (h2-guard.ts), which keeps its idle timeout.
 */
import http2, {
  type Http2Server,
  type Http2Session,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { RequestParseError } from '../../core/http1/request-parser.ts';
import { type DownstreamExchange, servernameOf } from '../../core/net/downstream.ts';
import { H2Guard, type H2Logger } from './h2-guard.ts';
import { type H2Limits, nodeH2Options } from './h2-limits.ts';
import { H2Body, h2Refusal, h2RequestHead } from './h2-request.ts';
import { H2Response } from './h2-response.ts';

export interface H2Handlers {
  /** A stream's head is in: the exchange is the handler's until its response finishes or aborts. */
  request(exchange: DownstreamExchange): void;
  /**
   * A stream refused before the session runs it (what the HTTP/1.1 parser refuses: a target
   * past `uriLength`, a Host that contradicts `:authority`): the handler answers
   * on the exchange's sink, as it answers an HTTP/1.1 refusal.
   */
  refused(exchange: DownstreamExchange, error: RequestParseError): void;
}

export interface H2Server {
  readonly http2: Http2Server;
  /** Sessions open now. */
  readonly sessions: ReadonlySet<ServerHttp2Session>;
  /** Takes a connection: a plain socket whose next bytes are the preface, or a TLS socket that chose h2. */
  accept(socket: Socket): void;
  /** A drain's first step: GOAWAY NO_ERROR on every session; each closes once its streams are answered. */
  closeWhenIdle(): void;
  /**
   * A drain's deadline: destroys every session still open (each response still open says
   * `cutByDrain`); returns how many.
   */
  destroyAll(): number;
}

const ignore = (): void => {};

export function createH2Server(limits: H2Limits, handlers: H2Handlers, logger: H2Logger): H2Server {
  const sessions = new Set<ServerHttp2Session>();
  const guards = new WeakMap<Http2Session, H2Guard>();
  const server = http2.createServer(nodeH2Options(limits));
  /** Responses not yet over, for the drain deadline to mark before it cuts them. */
  const open = new Set<H2Response>();
  let closing = false;

  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    guards.set(session, new H2Guard(session, limits, logger));
    if (closing) session.close();
  });

  server.on('stream', (stream: ServerHttp2Stream, _headers, flags: number, rawHeaders: string[]) => {
    // A stream refused or cut before a sink listens must not throw its error at the process.
    stream.on('error', ignore);
    const session = stream.session;
    const guard = session === undefined ? undefined : guards.get(session);
    if (guard === undefined || !guard.admit(stream)) return;
    const socket = session?.socket;
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || stream.endAfterHeaders;
    const head = h2RequestHead(rawHeaders, {
      streamId: stream.id ?? 0,
      endStream,
      remoteAddress: socket?.remoteAddress ?? '',
      encrypted: session?.encrypted === true,
      ...servernameOf(socket),
    });
    const response = new H2Response(stream, guard, {
      headRequest: head.method === 'HEAD',
      expectContinue: head.expectContinue,
      sendTimeoutMs: limits.sendTimeout,
    });
    open.add(response);
    response.onClose(() => open.delete(response));
    const body = endStream ? undefined : new H2Body(stream);
    // A response complete before its request body was read (a 404 or a refusal, answered
    // before the body is wanted): node:http2 closes a stream only once its readable side has
    // ended too, so what is left of the body is read and dropped (H2Body's destroy) and the
    // stream closes, and the session logs the request. The HTTP/1.1 server closes such a
    // connection instead.
    if (body !== undefined)
      stream.once('finish', () => {
        if (!body.complete && !body.destroyed) body.destroy();
      });
    const exchange: DownstreamExchange = {
      head,
      body,
      get bodyComplete() {
        return body === undefined || body.complete;
      },
      response,
      budget: guard.budget,
    };
    const refusal = h2Refusal(rawHeaders, head, limits.uriLength);
    if (refusal === undefined) handlers.request(exchange);
    else handlers.refused(exchange, refusal);
  });

  return {
    http2: server,
    sessions,
    accept(socket) {
      server.emit('connection', socket);
    },
    closeWhenIdle() {
      closing = true;
      for (const session of sessions) session.close();
    },
    destroyAll() {
      const count = sessions.size;
      for (const response of open) response.cutAtDrainDeadline();
      for (const session of sessions) session.destroy();
      return count;
    },
  };
}
