import type { Server, Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { DownstreamLimits, ListenerConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { RequestHead, RequestParseError } from '../../core/http1/parsed-request.ts';
import { noRelease } from '../../core/limits/count.ts';
import { clientAddressOf, clientBytesRead } from '../../core/net/client-address.ts';
import { markClientCertificate } from '../../core/net/client-certificate.ts';
import { listenOptions } from '../../core/net/listen-options.ts';
import { createTrustList } from '../../core/net/trust.ts';
import { reportEverySecond } from '../../observe/log/report-every-second.ts';
import { InFlightLimit } from '../admit/in-flight-limit.ts';
import { listenFor } from './acceptors.ts';
import { type AlpnChallengeLookup, createAlpnChallengeGate } from './alpn-challenge-gate.ts';
import { type RawRequestInfo, rawRequestInfo, refusalFailure, requestInfo } from './client-error.ts';
import { H2_ALPN_PROTOCOLS, prefaceVerdict } from './h2/h2-preface.ts';
import type { Http1Connection, Http1Handlers } from './http1/http1-connection.ts';
import type { Http1Settings } from './http1/http1-connection-setup.ts';
import { createHttp1Server, SOCKET_OPTIONS } from './http1/http1-server.ts';
import { createProxyGate } from './proxy-gate.ts';
import { admitRequest, type ListenerFacts, type Refusal, type RequestHandlers } from './request-handlers.ts';
import { type CertificateSource, createServerTls } from './server-tls.ts';

/** The certificates the gateway ordered by ACME (server/acme), for a TLS listener's SNI. */
export interface OrderedCertificateSource {
  readonly certificates: CertificateSource;
  /** The TLS-ALPN-01 validation certificate for a name being validated now (alpn-challenge-gate.ts). */
  alpnContext: AlpnChallengeLookup;
}

/** How often, at most, dropped connections are reported. */
const DROP_REPORT_MS = 1_000;

export interface Listener {
  readonly config: ListenerConfig;
  /**
   * Where its connections go (TLS, HTTP/1.1, HTTP/2). It listens itself only where its worker
   * does not bind its own sockets: elsewhere its acceptors (acceptors.ts) accept for it.
   */
  readonly server: Server;
  /** The bound port (differs from the config when it asked for port 0). */
  port(): number;
  /** Connections open now, whichever socket accepted them. */
  connections(): Promise<number>;
  /**
   * A reload kept this listener (same address): the socket stays, so no connection is
   * refused. Every certificate and key, the SNI ones too, is read again (a renewed certificate
   * under the same path is the usual reason to reload) and serves every handshake from now on; the header
   * and keep-alive timeouts apply to new connections and `max_in_flight` to new requests. The
   * header size limit, TLS on or off, HTTP/2 on or off and (while it serves HTTP/2) the
   * HTTP/2 bounds cannot change on a live socket: reload-plan.ts refuses those reloads.
   */
  update(config: ListenerConfig, limits: DownstreamLimits): void;
  close(): Promise<void>;
  /**
   * A drain began (its delay still serves): each HTTP/1.1 answer from now on says
   * `Connection: close` and its connection closes after it, so kept-alive clients move off.
   */
  closeAfterResponses(): void;
  /**
   * A drain's first step: stops accepting, closes idle keep-alive connections and every other
   * one after the response in flight on it; every HTTP/2 connection gets GOAWAY NO_ERROR and
   * closes once its streams are answered. Resolves when the last connection has closed.
   */
  stopAccepting(): Promise<void>;
  /** A drain's deadline: destroys every connection still open (tunnels included); returns how many. */
  cutConnections(): number;
}

/**
 * The accept phase: Candor's own HTTP/1.1 server (http1-server.ts) on node:net or node:tls,
 * with the downstream limits applied, wired to the request handler. The limits are read per
 * connection, so a reload takes effect for new connections.
 *
 * With `http2`, its HTTP/2 server (h2-server.ts) takes the connections that speak it: on TLS
 * those whose ALPN chose `h2`, on a plain port those that open with the connection preface
 * (h2-preface.ts); every stream goes to the same handlers as an HTTP/1.1 request. Without it
 * nothing of that runs: each connection goes straight to the HTTP/1.1 server.
 */
export async function startListener(
  config: ListenerConfig,
  handlers: RequestHandlers,
  ordered?: OrderedCertificateSource,
): Promise<Listener> {
  const protocol = config.tls ? 'https' : 'http';
  const serverTls = config.tls && createServerTls(config.tls, ordered?.certificates);
  // Kept by the listener, not the runtime: requests in flight outlive a config reload.
  const shedding =
    config.maxInFlight === undefined
      ? undefined
      : new InFlightLimit(config.maxInFlight, `the listener ${config.address}`, config.maxInFlightOf);
  const facts: { -readonly [K in keyof ListenerFacts]: ListenerFacts[K] } = {
    name: config.name,
    protocol,
    inFlight: shedding,
    ...(serverTls ? { misdirected: serverTls.misdirected } : {}),
  };
  let current = config;
  // One settings object for every HTTP/1.1 connection of this listener, changed in place by a
  // reload (update): a keep-alive connection's next request meets the limits in force, as a new
  // HTTP/2 stream does. The header size cannot change on a live socket (reload-plan.ts): the first holds.
  const live: { -readonly [K in keyof Http1Settings]: Http1Settings[K] } = {
    headerSize: handlers.limits().headerSize,
    uriLength: 0,
    headerTimeout: 0,
    bodyIdleTimeout: 0,
    keepAliveTimeout: 0,
    // A reload cannot turn it on or off for a kept listener (reload-plan.ts).
    proxyProtocol: config.proxyProtocol !== undefined,
    // Nor http2: the HTTP/1.1 parser names a preface it meets by it.
    ...(config.http2 ? { http2: config.tls ? 'alpn' : 'prior-knowledge' } : {}),
  };
  const applyLimits = (limits: DownstreamLimits): void => {
    live.uriLength = limits.uriLength;
    live.headerTimeout = limits.headerTimeout;
    live.bodyIdleTimeout = limits.bodyIdleTimeout;
    live.keepAliveTimeout = limits.keepAliveTimeout;
    live.sendTimeout = limits.sendTimeout;
  };
  applyLimits(handlers.limits());
  const settings = (): Http1Settings => live;
  const { clients } = handlers;
  /** Connections that came over their client's `per_client.connections`: each request on them gets the 429. */
  const overLimit = new WeakMap<Socket, Failure>();
  const http1: Http1Handlers = {
    request(exchange, connection) {
      const refused = overLimit.get(connection.socket);
      if (refused === undefined) admitRequest(handlers, exchange, facts);
      else handlers.refusedExchange(exchange, refused, facts);
    },
    refused(connection, error, head) {
      refuse(handlers, connection, error, head);
    },
    ...(serverTls ? { plainOnTls: (tcp: Socket, done: () => void) => refusePlain(handlers, tcp, done) } : {}),
  };
  // node:http2 and the HTTP/2 server are loaded only by a listener that speaks it.
  const h2 = config.http2
    ? (await import('./h2/h2-listener.ts')).startH2(handlers, facts, () => current, overLimit)
    : undefined;
  // Built per config: a reload may change the list (not whether there is one: reload-plan.ts).
  let proxyFrom = createTrustList(config.proxyProtocol?.from ?? []);
  const gate =
    config.proxyProtocol &&
    createProxyGate(
      { has: (address) => proxyFrom.has(address) },
      () => handlers.limits().headerTimeout,
      reportEverySecond((refusal, count) => handlers.proxyRefused(current, refusal, count)),
    );
  /** Where the HTTP/2 listener hands back a connection that speaks HTTP/1.1 (one function for all of them). */
  const acceptHttp1 = (socket: Socket) => own.accept(socket);
  const own = createHttp1Server(
    settings,
    http1,
    // max_connections: bounded where the connections are accepted, across every socket (acceptors.ts).
    undefined,
    serverTls ? { ...serverTls.options, ...(h2 ? { ALPNProtocols: H2_ALPN_PROTOCOLS } : {}) } : undefined,
    (socket) => {
      // Counted once its TLS handshake is done, whatever protocol it speaks; one past its
      // client's limit (its PROXY header's client, behind a balancer) is served only to be told so (a silent close reads as a network fault).
      const slot = clients.connection(clientAddressOf(socket));
      if (slot instanceof Failure) overLimit.set(socket, slot);
      // Without a per-client limit (the default) there is nothing to give back: no listener added.
      else if (slot !== noRelease) socket.once('close', slot);
      // The certificate the client presented, judged once for every request on the connection.
      const judged = serverTls?.clientCertificate(socket as TLSSocket);
      if (judged !== undefined) markClientCertificate(socket, judged);
      if (serverTls === undefined) own.acceptPlain(socket);
      else if (h2) h2.take(socket, acceptHttp1, true);
      else own.accept(socket);
    },
    gate,
    // Only a listener that orders certificates reads ClientHellos for ACME's validations.
    config.tls?.acme === undefined || ordered === undefined
      ? undefined
      : createAlpnChallengeGate(ordered.alpnContext, () => handlers.limits().headerTimeout),
    // A plain listener with h2c: its HTTP/1.1 connection looks at the first bytes itself.
    h2 && !serverTls
      ? { mayBeH2: (first) => prefaceVerdict(first) !== 'http1', take: (s) => h2.take(s, acceptHttp1, false) }
      : undefined,
  );
  const { server } = own;

  // Past max_connections each new connection is closed as it is accepted ('drop', from node:net
  // or the acceptors: acceptors.ts): nothing is read from it, so it costs little more than the
  // accept. Idle keep-alive connections and tunnels count too.
  let drops = 0;
  server.on('drop', () => {
    // The first drop of a quiet spell starts the report; the rest are counted into it.
    if (drops++ > 0) return;
    setTimeout(() => {
      const count = drops;
      drops = 0;
      handlers.dropped(current, count);
    }, DROP_REPORT_MS).unref();
  });

  // Each worker on sockets of its own where the kernel can balance them (listen-options.ts).
  const accepting = await listenFor(
    server,
    listenOptions(config.port, config.host),
    SOCKET_OPTIONS,
    config.maxConnections,
  );
  const closed = () => {
    // Resolves when the last connection has closed (node:net waits for them).
    const done = accepting.close();
    own.closeWhenIdle();
    h2?.closeWhenIdle();
    return done;
  };
  return {
    get config() {
      return current;
    },
    server,
    update(next, limits) {
      current = next;
      applyLimits(limits);
      proxyFrom = createTrustList(next.proxyProtocol?.from ?? []);
      facts.name = next.name;
      accepting.setMaxConnections(next.maxConnections);
      if (next.tls && serverTls) serverTls.reload(next.tls, server as TlsServer);
      // The count goes on (requests holding slots are still running); only the bound changes.
      if (next.maxInFlight === undefined) facts.inFlight = undefined;
      else if (facts.inFlight) {
        facts.inFlight.max = next.maxInFlight;
        facts.inFlight.of = next.maxInFlightOf;
      } else
        facts.inFlight = new InFlightLimit(
          next.maxInFlight,
          `the listener ${next.address}`,
          next.maxInFlightOf,
        );
    },
    port: () => accepting.port(),
    connections: () => accepting.connections(),
    close: closed,
    stopAccepting: closed,
    closeAfterResponses: () => own.closeAfterResponses(),
    // The HTTP/2 responses first, so each says it was cut by the drain; the sockets then
    // (the TCP count is every connection, HTTP/2 ones included).
    cutConnections: () => {
      h2?.server.destroyAll();
      return own.destroyAll();
    },
  };
}

/** A refused request: the answer and its log line (the handlers'), then the connection closes. */
function refuse(
  handlers: RequestHandlers,
  connection: Http1Connection,
  error: RequestParseError,
  head: RequestHead | undefined,
): void {
  const { socket } = connection;
  const refusal: Refusal = {
    remoteAddress: clientAddressOf(socket),
    encrypted: 'encrypted' in socket,
    bytesRead: connection.requestBytes,
    answer: (text) => connection.refuse(text),
  };
  const info = head === undefined ? rawRequestInfo(connection.refusedHead) : requestInfo(head);
  handlers.refused(refusal, refusalFailure(error), info);
}

/** What the request said of itself is gone into OpenSSL: its answer and log line name none of it. */
const UNREAD: RawRequestInfo = {
  method: '',
  path: '',
  host: undefined,
  accept: undefined,
  requestId: undefined,
  protocol: undefined,
};

/**
 * A plain HTTP request sent to a TLS listener (`http://` for `https://`): answered 400 in plain
 * text on its TCP socket, as nginx answers it, and logged as any refused request, not closed
 * on unanswered (an empty reply tells the client nothing). No lingering close can follow it:
 * Node destroyed the TLS socket before it told of the failed handshake, and the TCP socket under
 * it writes the answer before their handle closes. A request that came whole in the first read
 * (about 64 KiB) reads its answer; the rest of a longer body, unread at the close, resets the
 * connection, and a client that reads only once it has sent everything reads the reset.
 */
function refusePlain(handlers: RequestHandlers, tcp: Socket, done: () => void): void {
  const refusal: Refusal = {
    remoteAddress: clientAddressOf(tcp),
    encrypted: false,
    // What the client sent, as a parsed request counts it: a PROXY header before it is not its.
    bytesRead: clientBytesRead(tcp),
    answer: (text) => {
      tcp.once('error', done);
      tcp.end(text, done);
    },
  };
  const failure = new Failure(
    'http_request_error',
    'a plain HTTP request sent to a TLS (HTTPS) listener: send it with https://',
    { status: 400 },
  );
  handlers.refused(refusal, failure, UNREAD);
}
