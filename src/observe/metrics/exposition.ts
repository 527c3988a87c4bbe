import type { IncomingMessage, ServerResponse } from 'node:http';

/** A rendered scrape: the text and the content type prom-client says it is in. */
export interface Exposition {
  readonly contentType: string;
  readonly text: string;
}

/** Renders the metrics this listener serves: one process's, or (in the cluster primary) all workers'. */
export type RenderMetrics = () => Promise<Exposition>;

/**
 * The fields of every answer a metrics listener makes, as the admin API's (server/admin/answer.ts):
 * a scrape is the moment's counts and an error no page to keep, and a 503 quotes a failure's
 * message, or a 421 the request's Host: each read as its type only.
 */
export const OWN_FIELDS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/**
 * The handler for `GET /metrics`, whichever listener mounts it (the standalone metrics
 * listener now, the admin API later): GET and HEAD only, never cached, and a scrape that
 * fails (a worker that does not answer in time) is a 503 the scraper records as down, not a
 * partial page it would take for the truth.
 */
export function answerMetrics(req: IncomingMessage, res: ServerResponse, render: RenderMetrics): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0', ...OWN_FIELDS });
    res.end();
    return;
  }
  render().then(
    ({ contentType, text }) => {
      res.writeHead(200, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(text),
        ...OWN_FIELDS,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (err: Error) => {
      const body = `metrics unavailable: ${err.message}\n`;
      res.writeHead(503, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...OWN_FIELDS,
      });
      res.end(body);
    },
  );
}
