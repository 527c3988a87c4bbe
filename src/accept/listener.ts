import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { Failure } from '../failure/failure.ts';
import { handleUpgrade } from '../forward/upgrade.ts';
import { handleRequest } from '../gateway/handle-request.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { answerOnSocket, handleClientError } from './client-error.ts';

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
  };
  const protocol = config.tls ? 'https' : 'http';
  const server = config.tls
    ? https.createServer({
        ...options,
        cert: readFileSync(config.tls.cert),
        key: readFileSync(config.tls.key),
      })
    : http.createServer(options);
  const facts = { protocol };

  server.on('request', (req, res) => handleRequest(current(), facts, req, res));
  // Answer 100 Continue only once routing and limits agree to take the body.
  server.on('checkContinue', (req, res) => handleRequest(current(), facts, req, res));
  server.on('checkExpectation', (req, res) => handleRequest(current(), facts, req, res));
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
    handleClientError(err, socket, runtime.name, runtime.config.limits.uriLength, runtime.logger);
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
