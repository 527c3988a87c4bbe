/**
 * An origin whose whole answer stops mid-body until the test says (the Range miss streaming
 * tests, test/proxy/cache/range-miss-*.test.ts), and a GET whose head is seen apart from its
 * body: an answer's bytes proven to come while the upstream still holds the rest, by order.
 */
import http from 'node:http';
import { type LoopbackServer, listenOnLoopback } from './loopback-server.ts';
import type { Seen } from './ranged-origin.ts';

/** Large enough that the whole answer is many socket writes; within the tests' max_entry (8 MiB). */
export const LENGTH = 4 * 1024 * 1024;
export const BODY = Buffer.alloc(LENGTH);
for (let i = 0; i < LENGTH; i++) BODY[i] = 0x30 + (i % 10);
/** What the upstream sends at once, before it waits. */
export const FIRST = 64 * 1024;

export interface PausedOrigin {
  readonly url: string;
  readonly server: LoopbackServer;
  /** The whole answer's head and FIRST bytes went, and it waits for the test. */
  readonly waiting: boolean;
  /** The rest of the body goes. */
  go(): void;
  /** Its connection is destroyed mid-body. */
  reset(): void;
}

/**
 * An origin whose whole answer (a 200, kept 10 minutes, with Content-Length) sends its head and
 * FIRST bytes, then waits for `go` (the rest) or `reset` (its connection destroyed mid-body).
 */
export async function pausedOrigin(
  seen: Seen[],
  keep: (server: Promise<LoopbackServer>) => Promise<LoopbackServer>,
): Promise<PausedOrigin> {
  let paused: http.ServerResponse | undefined;
  const server = await keep(
    listenOnLoopback((req, res) => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        range: req.headers.range,
        ifRange: undefined,
      });
      res.writeHead(200, {
        'cache-control': 'max-age=600',
        etag: '"v1"',
        'content-type': 'video/mp4',
        'content-length': LENGTH,
      });
      res.write(BODY.subarray(0, FIRST));
      paused = res;
    }),
  );
  return {
    url: server.url,
    server,
    get waiting() {
      return paused !== undefined && !paused.writableEnded && !paused.destroyed;
    },
    go: () => paused?.end(BODY.subarray(FIRST)),
    reset: () => paused?.socket?.destroy(),
  };
}

/** A GET whose head is seen when it comes, apart from its body (which may be cut). */
export function streamed(base: string, path: string, headers: http.OutgoingHttpHeaders) {
  const req = http.request(new URL(path, base), { headers, agent: false });
  const timer = setTimeout(() => req.destroy(new Error(`${path}: not over after 5 s`)), 5000);
  const head = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  const body = head.then(
    (res) =>
      new Promise<{ body: Buffer; complete: boolean }>((resolve) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', () => {});
        res.on('close', () => {
          clearTimeout(timer);
          resolve({ body: Buffer.concat(chunks), complete: res.complete });
        });
      }),
  );
  req.end();
  return { head, body };
}
