import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { InFlightLimit } from '../admit/in-flight-limit.ts';
import type { ListenerConfig } from '../config/types.ts';
import { Failure } from '../failure/failure.ts';
import { handleUpgrade } from '../forward/upgrade.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { handleRequest } from '../session/handle-request.ts';
import { answerOnSocket, handleClientError } from './client-error.ts';
import { InFlightRequests } from './in-flight.ts';
import { checkRequest } from './request-checks.ts';
import { answerServerOptions, isServerOptions } from './server-options.ts';

export interface Listener {
  readonly config: ListenerConfig;
  readonly server: http.Server;
  /** The bound port (differs from the config when it asked for port 0). */
  port(): number;
  close(): Promise<void>;
}

/**
 * The accept phase: a node:http(s) server with the downstream limits applied, wired to
 * the request handler. `current()` returns the live runtime, read per request so a
 * reload takes effect for new requests only.
 */
export async function startListener(config: ListenerConfig, current: () => Runtime): Promise<Listener> {
  const { limits } = current().config;
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
    shouldUpgradeCallback: (req) => !upgradesTo(req, 'h2c'),
  };
  const protocol = config.tls ? 'https' : 'http';
  const server = config.tls
    ? https.createServer({
        ...options,
        cert: readFileSync(config.tls.cert),
        key: readFileSync(config.tls.key),
      })
    : http.createServer(options);
  // Kept by the listener, not the runtime: requests in flight outlive a config reload.
  const shedding =
    config.maxInFlight === undefined
      ? undefined
      : new InFlightLimit(config.maxInFlight, `the listener ${config.address}`);
  const facts = { protocol, inFlight: shedding };

  const inFlight = new InFlightRequests();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) =>
    inFlight.begin(req, res, () => {
      const runtime = current();
      if (isServerOptions(req) && !checkRequest(req, runtime.config.limits)) {
        return answerServerOptions(req, res, runtime.logger);
      }
      handleRequest(runtime, facts, req, res);
    });
  server.on('request', onRequest);
  // Answer 100 Continue only once routing and limits agree to take the body.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', onRequest);
  server.on('upgrade', (req, socket: Socket, head: Buffer) =>
    handleUpgrade(current(), facts, req, socket, head),
  );
  server.on('connect', (req, socket: Socket) => {
    const runtime = current();
    const failure = new Failure('http_request_error', 'CONNECT is not supported: this is a reverse proxy', {
      status: 405,
    });
    const requestId = req.headers['x-request-id'];
    answerOnSocket(
      socket,
      failure,
      {
        method: 'CONNECT',
        path: req.url ?? '',
        host: req.headers.host,
        accept: req.headers.accept,
        requestId: typeof requestId === 'string' ? requestId : undefined,
      },
      runtime.name,
      runtime.logger,
    );
  });
  server.on('clientError', (err: Error, socket: Socket) => {
    const runtime = current();
    handleClientError(err, socket, () => inFlight.ownerOf(socket), {
      proxyName: runtime.name,
      limits: runtime.config.limits,
      logger: runtime.logger,
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    config,
    server,
    port: () => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : config.port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** Whether the request's Upgrade header offers `protocol` (case-insensitive, RFC 9110 §7.8). */
function upgradesTo(req: http.IncomingMessage, protocol: string): boolean {
  return (
    req.headers.upgrade?.split(',').some((p) => p.trim().split('/')[0].toLowerCase() === protocol) ?? false
  );
}
