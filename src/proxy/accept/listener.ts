import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { DownstreamLimits, ListenerConfig } from '../../core/config/types.ts';
import type { Failure } from '../../core/failure/failure.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import { listenOptions } from '../../core/net/listen-options.ts';
import { InFlightLimit } from '../admit/in-flight-limit.ts';
import { handleClientError, type RawRequestInfo } from './client-error.ts';
import { ConnectionDrain } from './connection-drain.ts';
import { InFlightRequests, inDoubt, requestHasBody } from './in-flight.ts';
import { headOf, NodeExchange } from './node-exchange.ts';
import { createServerTls } from './server-tls.ts';

/** What the request pipeline needs to know of the listener a request came in on. */
export interface ListenerFacts {
  /** "http" or "https". */
  readonly protocol: string;
  /** The listener's load-shedding count (`max_in_flight`), when it has one. */
  readonly inFlight?: InFlightLimit;
}

/**
 * Where the accept phase hands requests over (the composition root wires these to the
 * request session): the listener itself knows nothing of what happens to a request next.
 */
export interface RequestHandlers {
  /** A parsed request (an upgrade too: its head says so), with the sink for its response. */
  request(exchange: DownstreamExchange, listener: ListenerFacts): void;
  /** Node's parser refused a request before there was a request object: answer on the socket. */
  refused(socket: Socket, failure: Failure, info: RawRequestInfo): void;
  /** The live downstream limits (they may change with a reload). */
  limits(): DownstreamLimits;
  /**
   * Connections were closed as they came in because the listener held `max_connections`:
   * told at most once a second, with how many since the last time (a flood of them must not
   * become a flood of log lines).
   */
  dropped(listener: ListenerConfig, count: number): void;
}

/** How often, at most, dropped connections are reported. */
const DROP_REPORT_MS = 1_000;

export interface Listener {
  readonly config: ListenerConfig;
  readonly server: http.Server;
  /** The bound port (differs from the config when it asked for port 0). */
  port(): number;
  /**
   * A reload kept this listener (same address): the socket stays, so no connection is
   * refused. Every certificate and key, the SNI ones too, is read again (a renewed certificate
   * under the same path is the usual reason to reload) and serves every handshake from now on; the header
   * and keep-alive timeouts and `max_in_flight` apply to new requests. The header size limit
   * and TLS on or off cannot change on a live socket: reload-plan.ts refuses those reloads.
   */
  update(config: ListenerConfig, limits: DownstreamLimits): void;
  close(): Promise<void>;
  /**
   * A drain's first step: stops accepting, closes idle keep-alive connections and every other
   * one after the response in flight on it. Resolves when the last connection has closed.
   */
  stopAccepting(): Promise<void>;
  /** A drain's deadline: destroys every connection still open (tunnels included); returns how many. */
  cutConnections(): number;
}

/**
 * The accept phase: a node:http(s) server with the downstream limits applied, wired to
 * the request handler. `current()` returns the live runtime, read per request so a
 * reload takes effect for new requests only.
 */
export async function startListener(config: ListenerConfig, handlers: RequestHandlers): Promise<Listener> {
  const limits = handlers.limits();
  const options: http.ServerOptions = {
    maxHeaderSize: limits.headerSize,
    headersTimeout: limits.headerTimeout,
    // Whole-request deadlines would cut legitimate long uploads: Candor times the body by idleness instead.
    requestTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headerTimeout / 4))),
    requireHostHeader: false, // checked in the accept phase, with a clear answer
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
    // RFC 9113 dropped the h2c upgrade; tunnelling it would let HTTP/2 past every check here
    // ("h2c smuggling"). Such a request is answered as the plain HTTP/1.1 request it also is.
    // An upgrade with a body is one too: after an upgrade Node stops parsing the connection, so
    // the body could not be framed, and the upstream may refuse the upgrade and read it as a body.
    shouldUpgradeCallback: (req) => !upgradesTo(req, 'h2c') && !requestHasBody(req),
  };
  const protocol = config.tls ? 'https' : 'http';
  const serverTls = config.tls && createServerTls(config.tls);
  const server = serverTls
    ? https.createServer({ ...options, ...serverTls.options })
    : http.createServer(options);
  // Kept by the listener, not the runtime: requests in flight outlive a config reload.
  const shedding =
    config.maxInFlight === undefined
      ? undefined
      : new InFlightLimit(config.maxInFlight, `the listener ${config.address}`);
  const facts: { protocol: string; inFlight?: InFlightLimit } = { protocol, inFlight: shedding };
  let current = config;

  // Past it Node closes each new connection as it is accepted ('drop'): nothing is read from
  // it, so it costs no more than the accept. Idle keep-alive connections and tunnels count too.
  server.maxConnections = config.maxConnections;
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

  const inFlight = new InFlightRequests();
  const connections = new ConnectionDrain(server, protocol === 'https');
  const encrypted = protocol === 'https';
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    connections.begin(res);
    inFlight.begin(req, res, () =>
      handlers.request(new NodeExchange(req, res, headOf(req, encrypted, false)), facts),
    );
  };
  server.on('request', onRequest);
  // Answer 100 Continue only once routing and limits agree to take the body.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', onRequest);
  const onUpgrade = (req: http.IncomingMessage, socket: Socket, head: Buffer) =>
    inFlight.afterCurrent(socket, () => {
      if (socket.destroyed || inDoubt(socket)) return socket.destroy();
      try {
        // An older Node hands h2c over too (no shouldUpgradeCallback): answered as the plain request it also is.
        const upgrade = req.method === 'CONNECT' || !upgradesTo(req, 'h2c');
        const exchange = NodeExchange.upgrade(req, socket, head, headOf(req, encrypted, upgrade));
        handlers.request(exchange, facts);
      } catch (err) {
        // Node's parser called us: a throw here would take the process down.
        socket.destroy();
        process.emitWarning(`candor: an upgrade failed to start: ${(err as Error).stack}`);
      }
    });
  server.on('upgrade', onUpgrade);
  server.on('connect', onUpgrade);
  server.on('clientError', (err: Error, socket: Socket) =>
    handleClientError(err, socket, () => inFlight.ownerOf(socket), {
      limits: handlers.limits(),
      refused: handlers.refused,
    }),
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Each worker on a socket of its own where the kernel can balance them (listen-options.ts).
    server.listen(listenOptions(config.port, config.host), () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    get config() {
      return current;
    },
    server,
    update(next, nextLimits) {
      current = next;
      server.maxConnections = next.maxConnections;
      server.headersTimeout = nextLimits.headerTimeout;
      server.keepAliveTimeout = nextLimits.keepAliveTimeout;
      if (next.tls && serverTls) serverTls.reload(next.tls, server as https.Server);
      // The count goes on (requests holding slots are still running); only the bound changes.
      if (next.maxInFlight === undefined) facts.inFlight = undefined;
      else if (facts.inFlight) facts.inFlight.max = next.maxInFlight;
      else facts.inFlight = new InFlightLimit(next.maxInFlight, `the listener ${next.address}`);
    },
    port: () => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : config.port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
    stopAccepting: () =>
      new Promise<void>((resolve) => {
        // server.close() also closes the connections idle at this moment.
        server.close(() => resolve());
        connections.closeConnections();
      }),
    cutConnections: () => connections.destroyAll(),
  };
}

/** Whether the request's Upgrade header offers `protocol` (case-insensitive, RFC 9110 §7.8). */
export function upgradesTo(req: http.IncomingMessage, protocol: string): boolean {
  return (
    req.headers.upgrade?.split(',').some((p) => p.trim().split('/')[0].toLowerCase() === protocol) ?? false
  );
}
