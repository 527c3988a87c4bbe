/**
 * Candor's own HTTP/1.1 server on node:net: accepts connections and gives each an
 * Http1Connection. Kept to what a listener needs: the connections it holds (for a drain and
 * its deadline). A listener bounds its connections where they are accepted, across all its
 * sockets (`max_connections`, acceptors.ts); `maxConnections` here is node:net's own bound, for
 * a server used alone.
 */

import { createServer, type Server, type ServerOpts, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { markAcceptedAt } from '../../../core/net/accepted-at.ts';
import type { DrainCut } from '../../../core/net/downstream.ts';
import type { PreTlsStage } from '../alpn-challenge-gate.ts';
import { PLAIN_HTTP } from '../handshake-failure.ts';
import { OpenList } from '../open-list.ts';
import type { ProxyGate } from '../proxy-gate.ts';
import { TlsConnections } from './handshake-deadline.ts';
import { Http1Connection } from './http1-connection.ts';
import type { EndedFor, Http1Handlers, Http1Settings, PriorKnowledge } from './http1-connection-setup.ts';

/**
 * How the server makes its TCP sockets, and every acceptor of its listener (acceptors.ts).
 * allowHalfOpen: a client's FIN must not end our side before the connection decides what it
 * means (a head cut short still gets its 400; a request in flight is a client that left).
 */
export const SOCKET_OPTIONS: Readonly<ServerOpts> = { allowHalfOpen: true, noDelay: true };

/**
 * A TLS listener's TCP sockets, its acceptors' too: not half-open until the handshake is done
 * (afterHandshake), so that a client's FIN before it ends the connection at once (it can never
 * carry a request). Made half-open by the acceptors as plain HTTP's are, the TLS socket over one
 * did not see a FIN that came with (or before) the client's Finished: a TLS health check that
 * hangs up as its handshake ends was held, in CLOSE_WAIT, to the handshake bound, then logged
 * "no handshake in time".
 */
const TLS_SOCKET_OPTIONS: Readonly<ServerOpts> = { ...SOCKET_OPTIONS, allowHalfOpen: false };

/** How a listener's sockets are made, TLS or not (acceptors.ts makes them as its server would). */
export function socketOptionsOf(tls: boolean): Readonly<ServerOpts> {
  return tls ? TLS_SOCKET_OPTIONS : SOCKET_OPTIONS;
}

export interface Http1Server {
  readonly server: Server;
  /** Connections open now (idle, busy, closing). */
  readonly connections: OpenList<Http1Connection>;
  /** Serves a connection as HTTP/1.1 (after its TLS handshake): what `take` calls for one it gives this server. */
  accept(socket: Socket): void;
  /**
   * Serves a plain connection as HTTP/1.1, unless its first bytes may be HTTP/2's preface on
   * a listener with `priorKnowledge` (then that has it, still counted here for a drain).
   */
  acceptPlain(socket: Socket): void;
  /** A drain began: every connection, and each one accepted from now on, closes after its next response. */
  closeAfterAnswers(): void;
  /**
   * A drain's first step (or its listener removed by a reload: `why`): stop accepting; idle
   * connections close now, busy ones after their response.
   */
  closeWhenIdle(why?: EndedFor): void;
  /** A drain's deadline: destroys every connection still open; returns how many. */
  destroyAll(why: DrainCut): number;
  /** How many connections destroyAll would destroy now. */
  openCount(): number;
  /** Over TLS, the TCP connection under a TLS socket (as node:tls accepted it), while it is open. */
  tcpUnder(socket: TLSSocket): Socket | undefined;
  /**
   * Over TLS, whether each handshake's client is noted as it goes (TlsConnections.noteClient):
   * on a listener that requires a client certificate, where Node closes a refused one without a
   * word, so that its failure can name its client.
   */
  noteClients(on: boolean): void;
}

/**
 * `tls`: the listener's certificate and key (then each connection starts after its handshake;
 * `server.setSecureContext` swaps them for new handshakes). `take`: who gets each connection
 * the server accepts (after its handshake), when not this server: a listener that serves
 * HTTP/2 too picks the protocol there and hands HTTP/1.1 back to `accept`; a plain socket it
 * gives to `accept` or `acceptPlain` (or destroys), never elsewhere. `gate`: the PROXY
 * protocol, read from each TCP connection before anything else (its TLS handshake too).
 * `alpn`: over TLS, the ACME TLS-ALPN-01 validations, answered before the listener's handshake.
 * `priorKnowledge`: a plain listener that serves h2c too, for `acceptPlain`.
 */
export function createHttp1Server(
  settings: () => Http1Settings,
  handlers: Http1Handlers<Http1Connection>,
  maxConnections?: number,
  tls?: TlsOptions,
  take?: (socket: Socket) => void,
  gate?: ProxyGate,
  alpn?: PreTlsStage,
  priorKnowledge?: PriorKnowledge,
): Http1Server {
  const connections = new OpenList<Http1Connection>();
  // Told by the connection itself when its socket closes: no listener and no closure per connection.
  const forget = (connection: Http1Connection) => connections.delete(connection);
  /** A drain began (or why else): a connection that comes out of its TLS handshake or PROXY header now is served once. */
  let draining: EndedFor | undefined;
  const add = (connection: Http1Connection) => {
    connections.add(connection);
    if (draining !== undefined) connection.endAfterAnswer(draining);
  };
  const accept = (socket: Socket) =>
    add(new Http1Connection(socket, settings(), handlers, tls !== undefined, forget));
  // TCP connections that are not (or not yet) an Http1Connection here: every one over TLS or
  // behind a gate (counted from its accept); on a plain listener, only one handed to HTTP/2.
  const tcp = new Set<Socket>();
  // Over TLS, each also found again under its TLS socket (its handshake bound, a failed handshake's answer).
  const underTls = tls === undefined ? undefined : new TlsConnections();
  const track = (socket: Socket) => {
    tcp.add(socket);
    underTls?.add(socket);
    socket.once('close', () => tcp.delete(socket));
  };
  // What reads a connection before node:net or node:tls does (for TLS, before its handshake):
  // the PROXY header first, then an ACME validation's ClientHello.
  const stages = [gate, tls === undefined ? undefined : alpn].filter((s) => s !== undefined);
  // Over TLS, the TCP connections too: one still in its handshake has no Http1Connection yet;
  // nor one whose PROXY header is still being read.
  const counted = tls !== undefined || stages.length > 0;
  // Made once a server: a plain HTTP/1.1 connection adds nothing to find out that it is one.
  const handOff = priorKnowledge && handOffTo(priorKnowledge, counted ? undefined : track);
  const acceptPlain = (socket: Socket) =>
    add(new Http1Connection(socket, settings(), handlers, false, forget, handOff));
  const first = afterHandshake(take ?? accept, underTls, stages.length > 0, gate);
  const server = serverOf(tls, settings().headerTimeout, first);
  const noteClient = (_line: Buffer, socket: TLSSocket) => underTls?.noteClient(socket);
  // Node only reports a handshake that failed or passed its timeout ('tlsClientError'): the
  // socket would stay open (a stalled ClientHello for good), holding a connection slot.
  if (underTls !== undefined)
    server.on('tlsClientError', (err, socket) => failedHandshake(err, socket, handlers, underTls));
  if (maxConnections !== undefined) server.maxConnections = maxConnections;
  // Node's handshake bound, as it reads it: the value in force when the listener opened.
  if (stages.length > 0) throughStages(server, stages, underTls, settings().headerTimeout, tls === undefined);
  // First, before node:tls wraps it: the TCP socket is read as it was accepted.
  if (counted) server.prependListener('connection', track);
  return {
    server,
    connections,
    accept,
    acceptPlain,
    closeAfterAnswers() {
      draining ??= 'drain';
      // Told (endAfterToldAnswer): an answer whose head left saying keep-alive keeps its connection for the next.
      for (const connection of connections.values()) connection.endAfterToldAnswer('drain');
    },
    closeWhenIdle(why = 'drain') {
      draining ??= why;
      server.close();
      // A copy: a connection may leave the list as it is told.
      for (const connection of [...connections.values()]) connection.closeWhenIdle(why);
      for (const socket of tcp) if (socket.bytesRead === 0) closeIfSilent(socket);
    },
    // (Plain: the HTTP/1.1 connections and those handed to HTTP/2, apart.)
    openCount: () => (counted ? tcp.size : connections.size + tcp.size),
    destroyAll(why) {
      const count = this.openCount();
      for (const connection of [...connections.values()]) connection.cut(why);
      // Destroying the TCP socket ends the TLS one over it too.
      for (const socket of tcp) socket.destroy();
      return count;
    },
    tcpUnder: (socket) => underTls?.under(socket),
    noteClients(on) {
      if (underTls === undefined) return;
      // node:tls's 'keylog' is the one event a server gives with the TLS socket during its
      // handshake (its lines, secrets, are not kept); made only while a listener has it.
      server.removeListener('keylog', noteClient);
      if (on) server.on('keylog', noteClient);
    },
  };
}

/** A plain connection that may be HTTP/2 goes to it, `track`ed when not counted at its accept. */
function handOffTo(
  priorKnowledge: PriorKnowledge,
  track: ((socket: Socket) => void) | undefined,
): PriorKnowledge {
  return {
    mayBeH2: priorKnowledge.mayBeH2,
    take: (socket) => {
      track?.(socket);
      priorKnowledge.take(socket);
    },
  };
}

/**
 * Where a connection goes once node:net or node:tls hands it over. Over TLS the socket that comes
 * here is a new one: it takes its client from the TCP one's header; and its handshake, timed
 * from the accept when a stage read it first, is done. It is half-open from here only
 * (TLS_SOCKET_OPTIONS): before its handshake, a client's FIN ends it at once, since it can never
 * carry a request (a load balancer's TCP check); half-open, it held its slot, and a drain,
 * until the handshake bound.
 */
function afterHandshake(
  taker: (socket: Socket) => void,
  underTls: TlsConnections | undefined,
  staged: boolean,
  gate: ProxyGate | undefined,
): (socket: Socket) => void {
  if (underTls === undefined) return taker;
  return (socket: Socket) => {
    socket.allowHalfOpen = true;
    if (staged) {
      underTls.handshakeDone(socket as TLSSocket);
      gate?.adopt(socket);
    }
    taker(socket);
  };
}

/**
 * The node:net server, or over TLS the node:tls one. A handshake is part of the head's time:
 * Node's own bound (120 s) would let a client that stalls its ClientHello hold a connection
 * slot that long. (`handshakeMs` is read when the listener opens: a reload's header_timeout
 * reaches the heads, not the handshakes.)
 */
function serverOf(tls: TlsOptions | undefined, handshakeMs: number, first: (socket: Socket) => void): Server {
  if (tls === undefined) return createServer(SOCKET_OPTIONS, first);
  return createTlsServer({ ...TLS_SOCKET_OPTIONS, handshakeTimeout: handshakeMs, ...tls }, first);
}

/**
 * Each accepted connection goes through the stages (the PROXY header, an ACME validation's
 * ClientHello) before node:net or node:tls reads it: the server's own 'connection' listeners
 * are called once the last stage admitted it.
 */
function throughStages(
  server: Server,
  stages: readonly (ProxyGate | PreTlsStage)[],
  underTls: TlsConnections | undefined,
  handshakeMs: number,
  plain: boolean,
): void {
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const through = (socket: Socket, index: number): void => {
    const stage = stages[index];
    if (stage !== undefined) return stage.admit(socket, (admitted) => through(admitted, index + 1));
    underTls?.boundHandshake(socket, handshakeMs);
    for (const listener of inner) listener.call(server, socket);
    // pause() stopped the flow; a 'data' listener the taker added would not restart it.
    if (plain) socket.resume();
  };
  server.on('connection', (socket: Socket) => {
    markAcceptedAt(socket, performance.now());
    through(socket, 0);
  });
}

/**
 * A drain: a TCP connection not one byte of a handshake (or PROXY header) came on has nothing of
 * a request in it, and closes as an HTTP/1.1 connection with no byte of a head does
 * (Http1Connection.closeWhenIdle), after one more look: bytes already in its socket's buffer when
 * the drain began are read by the next poll, and that client is served once, saying close. Left
 * open, it held the drain until the handshake bound (`limits.header_timeout`).
 */
function closeIfSilent(socket: Socket): void {
  setImmediate(() =>
    setImmediate(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }),
  );
}

/**
 * A handshake that failed (or passed its timeout) is destroyed, but for a plain HTTP request
 * sent to the TLS port (`http://` for `https://`, PLAIN_HTTP), where a client closed on
 * unanswered reads only an empty reply. Its TCP socket (under the TLS socket, as the server
 * holds it) still writes in plain text, so `plainOnTls` can tell it.
 */
function failedHandshake(
  err: Error,
  socket: TLSSocket,
  handlers: Http1Handlers<Http1Connection>,
  connections: TlsConnections,
): void {
  const tcp = connections.under(socket);
  handlers.handshakeFailed?.(err, socket, connections.clientOf(socket));
  if (
    !PLAIN_HTTP.has((err as NodeJS.ErrnoException).code ?? '') ||
    handlers.plainOnTls === undefined ||
    tcp === undefined
  )
    return void socket.destroy();
  handlers.plainOnTls(tcp, () => socket.destroy());
}
