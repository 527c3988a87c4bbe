/**
 * A gRPC call fails in its trailers (or a Trailers-Only head), its `:status` 200: the canary's
 * judge read every call as an answer, so a canary failing every call UNAVAILABLE passed its steps
 * and was promoted, while the gateway's own candor_grpc_responses_total counted each
 * `grpc_status="14"` from it (through `candor serve`: 326 calls of 326, promoted). A call its
 * upstream failed counts as the 5xx it stands for (UNKNOWN, INTERNAL, DATA_LOSS 500,
 * UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504); one that says the call was wrong
 * (NOT_FOUND…) is an answer, as a 404 is. Real node:http2 gRPC upstreams over h2c, a real
 * HTTP/2 client.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** A gRPC server answering each call with the status `status(path)` gives: OK with a message, else in its trailers (or, `headOnly`, Trailers-Only). */
async function grpcVersion(status: (path: string) => number, headOnly = false) {
  const server = http2.createServer();
  server.on('stream', (stream, head) => {
    stream.resume();
    stream.on('end', () => {
      const code = status(String(head[':path']));
      if (code !== 0 && headOnly) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code) },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(code) }));
      stream.end(code === 0 ? Buffer.from([0, 0, 0, 0, 2, 0x6f, 0x6b]) : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const config = (stable: string, next: string, canary: string) => `name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    canary: { upstream: next, ${canary} }
upstreams:
  stable: { protocol: h2c, targets: [{ url: ${stable} }] }
  next: { protocol: h2c, targets: [{ url: ${next} }] }
`;

/** `n` unary calls to `path`, one after another, on one HTTP/2 connection: the grpc-status each read. */
async function calls(gw: TestGateway, path: string, n: number): Promise<Record<string, number>> {
  const client = http2.connect(gw.url);
  const read: Record<string, number> = {};
  try {
    for (let i = 0; i < n; i++)
      await new Promise<void>((resolve) => {
        const req = client.request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        const count = (status: unknown) => {
          if (status !== undefined) read[String(status)] = (read[String(status)] ?? 0) + 1;
        };
        req.on('response', (h) => count(h['grpc-status']));
        req.on('trailers', (t) => count(t['grpc-status']));
        req.resume();
        req.on('close', () => resolve());
        req.end(Buffer.from([0, 0, 0, 0, 0]));
      });
  } finally {
    client.close();
  }
  return read;
}

test('gRPC calls its upstream failed count on the canary as the 5xx they stand for; a call answered NOT_FOUND is an answer', async () => {
  const byPath: Record<string, number> = {
    '/s.S/Ok': 0,
    '/s.S/Down': 14,
    '/s.S/Bug': 13,
    '/s.S/Gone': 5,
    '/s.S/New': 12,
  };
  for (const headOnly of [false, true]) {
    const stable = await grpcVersion(() => 0);
    const next = await grpcVersion((path) => byPath[path] ?? 0, headOnly);
    const gw = await startTestGateway(
      config(stable.url, next.url, 'steps: [50], step_interval: 1h'),
      {},
      'http2: true',
    );
    try {
      // Every call to the canary: its share set by hand (the canary paused there, its counts go on).
      gw.gateway.apply({ kind: 'split', route: 'api', sides: [{ upstream: 'stable', weight: 0 }] });
      const window = gw.gateway.runtime().splits.get('api')?.window;
      assert.ok(window);
      window.take();
      const read: Record<string, number> = {};
      for (const path of Object.keys(byPath))
        for (const [status, n] of Object.entries(await calls(gw, path, 3)))
          read[status] = (read[status] ?? 0) + n;
      assert.deepEqual(read, { 0: 3, 14: 3, 13: 3, 5: 3, 12: 3 }, 'what the clients read');
      const { canary } = window.take();
      assert.equal(canary.requests, 15);
      assert.equal(
        canary.status_5xx,
        9,
        `UNAVAILABLE, INTERNAL and UNIMPLEMENTED are the canary's failures (Trailers-Only: ${headOnly})`,
      );
      assert.equal(
        canary.latency.reduce((a, b) => a + b, 0),
        6,
        'OK and NOT_FOUND are answers',
      );
    } finally {
      await gw.close();
      await stable.close();
      await next.close();
    }
  }
});

test('a gRPC canary failing every call UNAVAILABLE is rolled back on status_5xx, not promoted', async () => {
  const stable = await grpcVersion(() => 0);
  const next = await grpcVersion(() => 14);
  const gw = await startTestGateway(
    config(
      stable.url,
      next.url,
      'steps: [50], step_interval: 1s, check_interval: 250ms, min_requests: 10, max_duration: 1m',
    ),
    {},
    'http2: true',
  );
  try {
    // Calls until the canary is no longer running: at 50 % each side has its ten in about twenty.
    for (let round = 0; round < 40 && gw.gateway.canaries()[0].phase === 'running'; round++)
      await calls(gw, '/s.S/Get', 10);
    await waitUntil('the verdict', () => gw.gateway.canaries()[0].phase !== 'running');
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'rolled_back', String(status.reason));
    assert.match(
      String(status.reason),
      /^status_5xx worse on the canary: (\d+)\/\1 \(100\.00%\) against 0\/\d+ \(0\.00%\)/,
    );
  } finally {
    await gw.close();
    await stable.close();
    await next.close();
  }
});
