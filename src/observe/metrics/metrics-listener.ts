import http from 'node:http';
import { answerMetrics, OWN_FIELDS, type RenderMetrics } from './exposition.ts';

export interface MetricsListener {
  /** The bound port (differs from the config when it asked for port 0). */
  port(): number;
  close(): Promise<void>;
}

/**
 * `metrics: { listen }`: GET /metrics on a listener of its own, without a token. Nothing else
 * is served here: every other path is 404. A Host that is not one of the listener's names nor
 * of `allowed_hosts` is a 421, before anything: a page whose name its attacker made resolve to
 * this address (DNS rebinding) sends its own name, and would read the scrape otherwise. `hosts`
 * is the admin listener's check (server/gateway/host-check.ts) on this listener's address.
 */
export async function startMetricsListener(
  address: { readonly host: string; readonly port: number },
  render: RenderMetrics,
  hosts: { allows(hostHeader: string | undefined): boolean; describe(): string },
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (!hosts.allows(req.headers.host)) {
      req.resume();
      const body = `the metrics listener answers for ${hosts.describe()}, not for Host ${JSON.stringify(String(req.headers.host).slice(0, 200))}: add it to metrics.allowed_hosts if it is this gateway's name\n`;
      res.writeHead(421, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...OWN_FIELDS,
      });
      res.end(body);
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') return answerMetrics(req, res, render);
    res.writeHead(404, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': '10',
      ...OWN_FIELDS,
    });
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
