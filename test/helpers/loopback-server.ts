import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A node:http server on 127.0.0.1 and a free port, for tests that need an upstream of their own. */
export interface LoopbackServer {
  readonly server: http.Server;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Closes the server and every connection still open on it. */
  close(): Promise<void>;
}

/**
 * `host`: another loopback address (127.0.0.2: a second target a DNS answer can name), `at`: a
 * port already taken on another one of them, so that both answer at one port as A records say.
 */
export async function listenOnLoopback(
  handler: http.RequestListener,
  host = '127.0.0.1',
  at = 0,
): Promise<LoopbackServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
