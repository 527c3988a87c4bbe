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

export async function listenOnLoopback(handler: http.RequestListener): Promise<LoopbackServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
