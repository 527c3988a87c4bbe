/**
 * The hold's release is a surge: every request it held goes the moment a target is back, more
 * than the pool can take at once (pool.max_connections + pool.max_pending). Those it woke that
 * meet the full pool wait again in their place, not answered 503 connection_limit_reached
 * for a restart they had waited out. Real sockets: a port that refuses, then serves.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('50 requests held over a restart, a pool of 2 with 5 waiting: each is answered 200, and reaches the upstream once', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    hold: { timeout: 20s }\n    pool: { max_connections: 2, max_pending: 5 }\n',
    }),
  );
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('back');
  });
  const held = () => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  try {
    const paths = Array.from({ length: 50 }, (_, i) => `/r${i}`);
    // One at a time: 50 at once would meet the pool full while the first ones try to connect.
    const answers = [];
    for (const path of paths) {
      answers.push(
        request(edge.url, { path, headers: { 'x-request-id': path.slice(1) }, timeoutMs: 20_000 }),
      );
      await waitUntil(`${path} held`, () => held() === answers.length);
    }
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    const responses = await Promise.all(answers);
    assert.deepEqual(
      responses.map((r) => r.status),
      paths.map(() => 200),
    );
    assert.deepEqual([...seen].sort(), [...paths].sort(), 'each reached the upstream once');
    const last = await edge.logFor('r49');
    assert.deepEqual([last.status, last.error], [200, undefined]);
    assert.ok((last.held_ms as number) > 0);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("a request held over a restart that still meets a full pool when hold.timeout has passed gets the pool's 503, connection_limit_reached", async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    hold: { timeout: 2s }\n    pool: { max_connections: 1, max_pending: 0 }\n',
    }),
  );
  // Holds every request it gets until the test lets it go: the pool's one connection stays busy.
  const parked: http.ServerResponse[] = [];
  const upstream = http.createServer((_req, res) => parked.push(res));
  const held = () => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  try {
    const first = request(edge.url, { path: '/first', timeoutMs: 20_000 });
    await waitUntil('the first held', () => held() === 1);
    const second = request(edge.url, {
      path: '/second',
      headers: { 'x-request-id': 'second' },
      timeoutMs: 20_000,
    });
    await waitUntil('both held', () => held() === 2);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    const res = await second;
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_limit_reached; details="every connection to \\"app\\" is busy and none may wait for one \(pool.max_pending: 0\)"/,
    );
    assert.equal(parked.length, 1, 'only the first reached the upstream');
    for (const r of parked) r.end('late');
    assert.equal((await first).status, 200);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("a drain while a request the hold woke waits behind the full pool: the pool's 503 at once", async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    `${singleUpstream(`http://127.0.0.1:${port}`, {
      // A passing probe wakes both at once: the first takes the one connection, the second meets it taken.
      upstream:
        '    hold: { timeout: 20s }\n    pool: { max_connections: 1, max_pending: 0 }\n' +
        '    health_check: { path: /health, interval: 3600s, rise: 1, fall: 1 }\n',
    })}drain: { delay: 0s, timeout: 30s }\n`,
  );
  const parked: http.ServerResponse[] = [];
  const upstream = http.createServer((req, res) => (req.url === '/health' ? res.end() : parked.push(res)));
  const held = () => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  try {
    const first = request(edge.url, { path: '/first', timeoutMs: 20_000 });
    await waitUntil('the first held', () => held() === 1);
    const second = request(edge.url, { path: '/second', timeoutMs: 20_000 });
    await waitUntil('both held', () => held() === 2);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    await waitUntil('the first sent, the second held again', () => parked.length === 1 && held() === 1);
    const drained = edge.gateway.drain();
    const res = await second;
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_limit_reached; /);
    for (const r of parked) r.end('late');
    assert.equal((await first).status, 200);
    await drained;
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
