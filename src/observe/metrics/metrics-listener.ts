import http from 'node:http';
import { answerMetrics, type RenderMetrics } from './exposition.ts';

export interface MetricsListener {
  /** The bound port (differs from the config when it asked for port 0). */
  port(): number;
  close(): Promise<void>;
}

/**
 * `metrics: { listen }`: GET /metrics on a listener of its own, until the admin API serves
 * it (which will mount answerMetrics with the same renderer). Nothing else is served here:
 * every other path is 404.
 */
export async function startMetricsListener(
  address: { readonly host: string; readonly port: number },
  render: RenderMetrics,
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') return answerMetrics(req, res, render);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '10' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: () => {
      const bound = server.address();
      return typeof bound === 'object' && bound ? bound.port : address.port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
