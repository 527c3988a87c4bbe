/**
 * `serveApp`: the whole kit on a plain node:http server in one call: the server created on the
 * wrapped listener, attached, listening, and the readiness check started (the server listens
 * before the app is ready: the liveness path answers, the readiness path says 503 until then).
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type App, createApp } from './app.ts';
import { APP_OPTIONS, type AppOptions, refuseUnknownAppOptions } from './options.ts';

export interface ServeAppOptions extends AppOptions {
  /** Default 0: a free port, read back from `port`. */
  readonly port?: number;
  /** Default: every interface, as `server.listen(port)`. */
  readonly host?: string;
  /** Passed to `http.createServer`. */
  readonly serverOptions?: ServerOptions;
}

export interface ServedApp {
  readonly app: App;
  readonly server: Server;
  readonly port: number;
  /** Resolves once the readiness check passed (or a shutdown began first). */
  readonly ready: Promise<void>;
}

/** Resolves once listening; rejects if the port cannot be bound. */
export async function serveApp(
  listener: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: ServeAppOptions = {},
): Promise<ServedApp> {
  // Its own options are the server's; the others createApp's, which refuses one it does not read.
  refuseUnknownAppOptions('options', options, [...APP_OPTIONS, 'port', 'host', 'serverOptions']);
  const { port, host, serverOptions, ...appOptions } = options;
  const app = createApp(appOptions);
  const server = app.attach(createServer(serverOptions ?? {}, app.handle(listener)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return { app, server, port: (server.address() as AddressInfo).port, ready: app.start() };
}
