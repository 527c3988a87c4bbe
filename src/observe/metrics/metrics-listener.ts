import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerConnectAsRequest } from '../../core/net/connect-as-request.ts';
import { pipelineRefused } from '../../core/net/pipelined-requests.ts';
import type { Logger } from '../log/logger.ts';
import { answerMetrics, OWN_FIELDS, type RenderMetrics } from './exposition.ts';

// node:http through process.getBuiltinModule, not an import: an ES module import of node:http
// reads every export to build its namespace, and three of them (WebSocket, CloseEvent,
// MessageEvent) load Node's whole bundled undici (nodejs/node#57649), ~55 ms of CPU and ~13 MB
// resident in a bare process, into the cluster primary, which uses none of them.
const http = process.getBuiltinModule('node:http');

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
 * A connection with more than a few requests waiting for their answers is closed (each scrape
 * asks every worker: core/net/pipelined-requests.ts), `pipelineClosed` told.
 */
export async function startMetricsListener(
  address: { readonly host: string; readonly port: number },
  render: RenderMetrics,
  hosts: { allows(hostHeader: string | undefined): boolean; describe(): string },
  pipelineClosed: (who: string, pipelined: number) => void,
): Promise<MetricsListener> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (pipelineRefused(req, res, pipelineClosed)) return;
    // The authority is the target's when it is absolute (RFC 9112 §3.2.2: the Host beside it is
    // ignored), as the admin listener reads it, or a CONNECT's authority-form (`host:port`, which
    // URL.parse would read as a scheme); only origin-form leaves it to Host.
    const target = req.url ?? '';
    const connect = req.method === 'CONNECT';
    const authorityForm = connect && !target.startsWith('/');
    const absolute = target.startsWith('/') || authorityForm ? undefined : URL.parse(target);
    const authority = authorityForm ? target : absolute == null ? req.headers.host : absolute.host;
    if (!hosts.allows(authority)) {
      req.resume();
      const body = `the metrics listener answers for ${hosts.describe()}, not for Host ${JSON.stringify(String(authority).slice(0, 200))}: add it to metrics.allowed_hosts if it is this gateway's name\n`;
      res.writeHead(421, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...OWN_FIELDS,
      });
      res.end(body);
      return;
    }
    // A CONNECT (whatever its target: this is no proxy) gets the scrape's 405 with its Allow.
    const path = absolute == null ? target.split('?')[0] : absolute.pathname;
    if (path === '/metrics' || connect) return answerMetrics(req, res, render);
    res.writeHead(404, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': '10',
      ...OWN_FIELDS,
    });
    res.end('not found\n');
  };
  const server = http.createServer(onRequest);
  answerConnectAsRequest(server, onRequest);
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

/** How the metrics listener's closing of a connection that pipelined too many scrapes is logged. */
export function metricsPipelineClosed(
  logger: Pick<Logger, 'warn'>,
): (who: string, pipelined: number) => void {
  return (who, pipelined) =>
    logger.warn({ who, pipelined }, 'metrics connection closed: too many requests pipelined');
}
