/**
 * The two probe paths, answered before the app sees the request. Liveness says the process
 * runs (a supervisor restarts it when that fails, so it stays 200 through a drain); readiness
 * says whether to send it traffic: 503 with Retry-After while it starts and from the first
 * moment of a shutdown, so that a gateway's health check takes it out before it stops accepting.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withoutQuery } from '../../core/uri-path.ts';
import type { AppState } from './lifecycle.ts';

interface ProbePaths {
  readonly readyPath: string;
  readonly livePath: string;
  readonly retryAfter: number;
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  // The absolute form (`GET http://host/ready`), which a server must accept (RFC 9112 §3.2.2)
  // and frameworks route by its path: read as the app would, or a catch-all route's 200 would
  // answer the probe and hide a drain. `*` and anything else that is no URL is no probe.
  if (!url.startsWith('/')) return URL.parse(url)?.pathname ?? '';
  return withoutQuery(url);
}

function answer(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // A cached probe answer would hide the very change it is asked about.
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Answers the request if it asks a probe path (any method; HEAD gets no body); whether it did. */
export function answerProbe(
  req: IncomingMessage,
  res: ServerResponse,
  state: AppState,
  paths: ProbePaths,
): boolean {
  const path = pathOf(req.url);
  if (path === paths.livePath) {
    answer(res, 200, { status: 'live', state });
    return true;
  }
  if (path !== paths.readyPath) return false;
  if (state === 'ready') answer(res, 200, { status: 'ready' });
  else answer(res, 503, { status: 'not ready', state }, { 'retry-after': String(paths.retryAfter) });
  return true;
}
