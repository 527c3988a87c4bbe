import type { Server, Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import type { DownstreamLimits, ListenerConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { noRelease } from '../../core/limits/count.ts';
import { clientAddressOf } from '../../core/net/client-address.ts';
import { markClientCertificate, NO_CERTIFICATE } from '../../core/net/client-certificate.ts';
import type { DrainCut } from '../../core/net/downstream.ts';
import { listenOptions } from '../../core/net/listen-options.ts';
import { createTrustList, type TrustList } from '../../core/net/trust.ts';
import { reportEverySecond } from '../../observe/log/report-every-second.ts';
import { InFlightLimit } from '../admit/in-flight-limit.ts';
import { listenFor } from './acceptors.ts';
import {
  type AlpnChallengeLookup,
  createAlpnChallengeGate,
  type PreTlsStage,
} from './alpn-challenge-gate.ts';
import type { ListenerH2 } from './h2/h2-listener.ts';
import { H2_ALPN_PROTOCOLS, HTTP1_ALPN_PROTOCOLS, prefaceVerdict } from './h2/h2-preface.ts';
import { type HandshakeFailure, handshakeFailureOf, reportHandshakeFailures } from './handshake-failure.ts';
import type { Http1Connection } from './http1/http1-connection.ts';
import type { Http1Handlers, Http1Settings, PriorKnowledge } from './http1/http1-connection-setup.ts';
import { createHttp1Server, socketOptionsOf } from './http1/http1-server.ts';
import { refuse, refusePlain, unserved } from './http1-refusals.ts';
import { endJudgedConnections, TrustEpochs } from './judged-connections.ts';
import { createProxyGate, type ProxyGate, type ProxyRefusal } from './proxy-gate.ts';
import { capPerClient, type ListenerFacts, type RequestHandlers } from './request-handlers.ts';
import { type CertificateSource, createServerTls, type ServerTls } from './server-tls.ts';

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
   * HTTP/2 bounds cannot change on a live socket: reload-plan.ts refuses those reloads. The
   * files are read here, and what cannot be (gone since the config was checked) throws with
   * nothing changed; the function returned puts it all in force (it cannot fail).
   */
  prepareUpdate(config: ListenerConfig, limits: DownstreamLimits): () => void;
  /** Stops accepting and closes its connections as stopAccepting does; `listener_removed`: a reload took it out. */
  close(why?: 'drain' | 'listener_removed'): Promise<void>;
  /**
   * A drain began (its delay still serves): each HTTP/1.1 answer from now on says
   * `Connection: close` and its connection closes after it, so kept-alive clients move off.
   */
  closeAfterAnswers(): void;
  /**
   * A drain's first step: stops accepting, closes idle keep-alive connections and every other
   * one after the response in flight on it; every HTTP/2 connection gets GOAWAY NO_ERROR and
   * closes once its streams are answered. Resolves when the last connection has closed.
   */
  stopAccepting(): Promise<void>;
  /** A drain's deadline: destroys every connection still open (tunnels included); returns how many. */
  cutConnections(why: DrainCut): number;
}

/**
 * The accept phase: Candor's own HTTP/1.1 server (http1-server.ts) on node:net or node:tls,
 * with the downstream limits applied, wired to the request handler. A reload changes the limits
 * in place (liveSettings), so they take effect for the next request of every connection.
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
  const serverTls = config.tls && createServerTls(config.tls, ordered?.certificates);
  const facts = listenerFacts(config, serverTls);
  const state: ListenerState = {
    current: config,
    proxyFrom: createTrustList(config.proxyProtocol?.from ?? []),
  };
  const live = liveSettings(config, handlers);
  /** Connections that came over their client's `per_client.connections`: each request on them gets the 429. */
  const overLimit = new WeakMap<Socket, Failure>();
  // Every failed handshake counted and, a line a reason a second at most, told (handshake-failure.ts).
  const handshakeFailed = reportHandshakeFailures((failure, count) =>
    handlers.handshakeFailed(state.current, failure, count),
  );
  const http1 = http1Handlers(handlers, facts, overLimit, serverTls && { tls: serverTls, handshakeFailed });
  // node:http2 and the HTTP/2 server are loaded only by a listener that speaks it.
  const h2 = config.http2
    ? (await import('./h2/h2-listener.ts')).startH2Listener(handlers, facts, () => state.current, overLimit)
    : undefined;
  /** Where the HTTP/2 listener hands back a connection that speaks HTTP/1.1 (one function for all of them). */
  const acceptHttp1 = (socket: Socket) => own.accept(socket);
  const own = createHttp1Server(
    () => live,
    http1,
    // max_connections: bounded where the connections are accepted, across every socket (acceptors.ts).
    undefined,
    serverTls
      ? { ...serverTls.options, ALPNProtocols: h2 ? H2_ALPN_PROTOCOLS : HTTP1_ALPN_PROTOCOLS }
      : undefined,
    (socket) => {
      // No renegotiation a TLS 1.2 client asks for: each is a full handshake the server pays for,
      // as often as the client likes on one connection, and the door of the splicing attacks
      // (CVE-2009-3555). nginx refuses it too; node:http2 already does. (TLS 1.3 has none.)
      if (serverTls !== undefined) (socket as TLSSocket).disableRenegotiation();
      if (!admitConnection(socket, handlers.clients, overLimit, serverTls, underOldTrust, handshakeFailed))
        return;
      if (serverTls === undefined) own.acceptPlain(socket);
      else if (h2) h2.take(socket, acceptHttp1, true);
      else own.accept(socket);
    },
    proxyGateOf(config, handlers, state),
    alpnGateOf(config, handlers, ordered),
    serverTls ? undefined : priorKnowledgeOf(h2, acceptHttp1),
  );
  const { server } = own;
  own.noteClients(serverTls?.requiresCertificate() ?? false);
  const trust = serverTls === undefined ? undefined : new TrustEpochs();
  // First, before node:tls wraps the TCP socket in a TLS one.
  if (trust !== undefined) server.prependListener('connection', (tcp: Socket) => trust.accepted(tcp));
  const underOldTrust = (socket: Socket) => trust?.before(own.tcpUnder(socket as TLSSocket)) ?? false;
  reportDrops(server, (count) => handlers.dropped(state.current, count));
  // Each worker on sockets of its own where the kernel can balance them (listen-options.ts).
  const options = listenOptions(config.port, config.host, config.name);
  const sockets = socketOptionsOf(serverTls !== undefined);
  const accepting = await listenFor(server, options, sockets, config.maxConnections).catch(
    (err: NodeJS.ErrnoException) => {
      // Port 0 written, the port announced asked for (listen-options.ts): taken, by the
      // primary's socket for port 0 that the other workers still listen on (asking for port 0
      // joins it), or by another program since every worker died (the listener moved: the
      // primary says so when this worker serves).
      if (err.code !== 'EADDRINUSE' || options.port === config.port) throw err;
      return listenFor(server, { ...options, port: config.port }, sockets, config.maxConnections);
    },
  );
  const closed = (why: 'drain' | 'listener_removed' = 'drain') => {
    // Resolves when the last connection has closed (node:net waits for them).
    const done = accepting.close();
    own.closeWhenIdle(why);
    h2?.closeWhenIdle();
    return done;
  };
  return {
    get config() {
      return state.current;
    },
    server,
    prepareUpdate(next, limits) {
      const tlsInForce = next.tls && serverTls?.prepare(next.tls, server as TlsServer);
      return () => {
        state.current = next;
        applyLimits(live, limits);
        state.proxyFrom = createTrustList(next.proxyProtocol?.from ?? []);
        facts.name = next.name;
        facts.clientCertificatesFrom = certificatesFrom(next);
        accepting.setMaxConnections(next.maxConnections);
        if (tlsInForce?.()) {
          own.noteClients(serverTls?.requiresCertificate() ?? false);
          trust?.changed();
          endJudgedConnections(own, h2?.server, serverTls?.requiresCertificate() ?? false);
        }
        updateInFlight(facts, next);
      };
    },
    port: () => accepting.port(),
    connections: () => accepting.connections(),
    close: closed,
    stopAccepting: () => closed(),
    closeAfterAnswers: () => own.closeAfterAnswers(),
    // The HTTP/2 responses first, so each says it was cut by the drain; the sockets then
    // (the TCP count is every connection, HTTP/2 ones included), before their sessions, so
    // that a session's destroy() sends nothing more (its streams' resets NO_ERROR, which read
    // as the answer's end). A response reset mid-body (an event stream, a download) has its
    // RST_STREAM INTERNAL_ERROR queued for node:http2's write at the end of this turn: its
    // socket goes after that write. Destroyed in this turn, the session sent GOAWAY NO_ERROR
    // and nghttp2 dropped the reset still queued (a closing session sends none): its client saw
    // a clean close, and node:http2's client ended the cut body as if whole.
    cutConnections: (why) => {
      const cut = (): number => {
        const count = own.destroyAll(why);
        h2?.server.destroyAll(why);
        return count;
      };
      if (h2 === undefined || h2.server.cutStreams(why) === 0) return cut();
      const count = own.openCount();
      setImmediate(cut);
      return count;
    },
  };
}

/**
 * What a reload changes of a listener in place: the config in force, and whom its PROXY headers
 * are taken from (a reload may change the list, not whether there is one: reload-plan.ts).
 */
interface ListenerState {
  current: ListenerConfig;
  proxyFrom: TrustList;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** What the request handlers know of the listener a request came on; a reload changes it in place. */
function listenerFacts(config: ListenerConfig, serverTls: ServerTls | undefined): Writable<ListenerFacts> {
  return {
    name: config.name,
    protocol: config.tls ? 'https' : 'http',
    // Kept by the listener, not the runtime: requests in flight outlive a config reload.
    inFlight:
      config.maxInFlight === undefined
        ? undefined
        : new InFlightLimit(config.maxInFlight, `the listener ${config.address}`, config.maxInFlightOf),
    ...(serverTls ? { misdirected: serverTls.misdirected } : {}),
    clientCertificatesFrom: certificatesFrom(config),
  };
}

/** Where its requests' client certificates come from, when not their handshakes (ListenerFacts). */
function certificatesFrom(config: ListenerConfig): ListenerFacts['clientCertificatesFrom'] {
  return config.clientCertificatesFrom === 'forwarded' ? 'forwarded' : undefined;
}

/** A reload's `max_in_flight`: the count goes on (requests holding slots are still running); only the bound changes. */
function updateInFlight(facts: Writable<ListenerFacts>, next: ListenerConfig): void {
  if (next.maxInFlight === undefined) facts.inFlight = undefined;
  else if (facts.inFlight) {
    facts.inFlight.max = next.maxInFlight;
    facts.inFlight.of = next.maxInFlightOf;
  } else
    facts.inFlight = new InFlightLimit(next.maxInFlight, `the listener ${next.address}`, next.maxInFlightOf);
}

/**
 * One settings object for every HTTP/1.1 connection of this listener, changed in place by a
 * reload (applyLimits): a keep-alive connection's next request meets the limits in force, as a
 * new HTTP/2 stream does. The header size cannot change on a live socket (reload-plan.ts): the first holds.
 */
function liveSettings(config: ListenerConfig, handlers: RequestHandlers): Writable<Http1Settings> {
  const live: Writable<Http1Settings> = {
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
  applyLimits(live, handlers.limits());
  return live;
}

function applyLimits(live: Writable<Http1Settings>, limits: DownstreamLimits): void {
  live.uriLength = limits.uriLength;
  live.headerTimeout = limits.headerTimeout;
  live.bodyIdleTimeout = limits.bodyIdleTimeout;
  live.keepAliveTimeout = limits.keepAliveTimeout;
  live.sendTimeout = limits.sendTimeout;
}

/** Where the listener's HTTP/1.1 requests and refusals go. */
function http1Handlers(
  handlers: RequestHandlers,
  facts: ListenerFacts,
  overLimit: WeakMap<Socket, Failure>,
  /** Over TLS: the listener's TLS, and where a failed handshake goes. */
  overTls: { tls: ServerTls; handshakeFailed: (failure: HandshakeFailure) => void } | undefined,
): Http1Handlers<Http1Connection> {
  return {
    request(exchange, connection) {
      const refused = overLimit.get(connection.socket);
      if (refused === undefined) capPerClient(handlers, exchange, facts);
      else handlers.refusedExchange(exchange, refused, facts);
    },
    refused(connection, error, head) {
      refuse(handlers, connection, error, head);
    },
    unserved(connection, request, why) {
      unserved(handlers, connection, request, why);
    },
    ...(overTls && {
      plainOnTls: (tcp: Socket, done: () => void) => refusePlain(handlers, tcp, done),
      handshakeFailed: (err: Error, socket: TLSSocket, client: string) =>
        overTls.handshakeFailed(handshakeFailureOf(err, socket, client, overTls.tls.serves)),
    }),
  };
}

/**
 * A connection accepted (its TLS handshake done, whatever protocol it speaks): counted against
 * its client's limit, and its client certificate judged once for every request on it; false
 * when it was closed instead.
 */
function admitConnection(
  socket: Socket,
  clients: RequestHandlers['clients'],
  overLimit: WeakMap<Socket, Failure>,
  serverTls: ServerTls | undefined,
  underOldTrust: (socket: Socket) => boolean,
  handshakeFailed: (failure: HandshakeFailure) => void,
): boolean {
  // One past its client's limit (its PROXY header's client, behind a balancer) is served only
  // to be told so (a silent close reads as a network fault).
  const slot = clients.connection(clientAddressOf(socket));
  if (slot instanceof Failure) overLimit.set(socket, slot);
  // Without a per-client limit (the default) there is nothing to give back: no listener added.
  else if (slot !== noRelease) socket.once('close', slot);
  // The certificate the client presented, judged once for every request on the connection.
  const judged = serverTls?.clientCertificate(socket as TLSSocket);
  if (judged === undefined) return true;
  markClientCertificate(socket, judged);
  // A certificate judged by the lists a reload replaced while its handshake was under way
  // (judged-connections.ts): closed as the connections judged before the reload were, its
  // client's next connection judged under the new lists. And a listener that requires a good
  // certificate lets no connection in without one: one refused here, after a handshake OpenSSL
  // let through (a resumed session whose certificate expired since: client-ca.ts), is closed as
  // the handshake would have been refused.
  const stale = judged.certificate !== undefined && underOldTrust(socket);
  if (!stale && (judged.refused === undefined || !serverTls?.requiresCertificate())) return true;
  if (!stale && judged.refused !== undefined)
    handshakeFailed({
      reason: judged.refused === NO_CERTIFICATE ? 'no_client_certificate' : 'client_certificate_refused',
      detail: judged.refused,
      client: clientAddressOf(socket),
      servername: (socket as TLSSocket).servername || undefined,
    });
  socket.destroy();
  return false;
}

/** The PROXY protocol's gate of a listener that takes it (undefined otherwise), from whom a reload says. */
function proxyGateOf(
  config: ListenerConfig,
  handlers: RequestHandlers,
  state: ListenerState,
): ProxyGate | undefined {
  if (!config.proxyProtocol) return undefined;
  // Told at most once a second, a balancer's (in `from`) apart from strangers': with one
  // reporter, the last refusal of each second was a stranger's while they kept coming, and a
  // balancer's own (every client behind it cut) was only counted, its reason never told.
  const told = () =>
    reportEverySecond((refusal: ProxyRefusal, count: number) =>
      handlers.proxyRefused(state.current, refusal, count),
    );
  const [balancers, strangers] = [told(), told()];
  return createProxyGate(
    { has: (address) => state.proxyFrom.has(address) },
    () => handlers.limits().headerTimeout,
    (refusal) => (refusal.listed ? balancers : strangers)(refusal),
  );
}

/** A plain listener with h2c: its HTTP/1.1 connection looks at the first bytes itself. */
function priorKnowledgeOf(
  h2: ListenerH2 | undefined,
  acceptHttp1: (socket: Socket) => void,
): PriorKnowledge | undefined {
  if (h2 === undefined) return undefined;
  return {
    mayBeH2: (first) => prefaceVerdict(first) !== 'http1',
    take: (s) => h2.take(s, acceptHttp1, false),
  };
}

/** Only a listener that orders certificates reads ClientHellos for ACME's validations. */
function alpnGateOf(
  config: ListenerConfig,
  handlers: RequestHandlers,
  ordered: OrderedCertificateSource | undefined,
): PreTlsStage | undefined {
  if (config.tls?.acme === undefined || ordered === undefined) return undefined;
  return createAlpnChallengeGate(ordered.alpnContext, () => handlers.limits().headerTimeout);
}

/**
 * Past max_connections each new connection is closed as it is accepted ('drop', from node:net
 * or the acceptors: acceptors.ts): nothing is read from it, so it costs little more than the
 * accept. Idle keep-alive connections and tunnels count too. Reported at most once a second.
 */
function reportDrops(server: Server, report: (count: number) => void): void {
  let drops = 0;
  server.on('drop', () => {
    // The first drop of a quiet spell starts the report; the rest are counted into it.
    if (drops++ > 0) return;
    setTimeout(() => {
      const count = drops;
      drops = 0;
      report(count);
    }, DROP_REPORT_MS).unref();
  });
}
