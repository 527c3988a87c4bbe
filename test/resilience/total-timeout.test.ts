/**
 * The route's total deadline: when it passes while an attempt is still waiting (a retry
 * included), the client gets its 504 at once — never silence; while the attempt still waits
 * for a connection of a full pool, the pool's 503, which judges no target.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { request } from '../helpers/http-client.ts';
import { poolOf, startTestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

test('the total timeout passing during a retry answers 504 http_response_timeout, naming the deadline', async () => {
  const [a, b] = await Promise.all([startBlackhole(), startBlackhole()]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${a.url}
      - url: ${b.url}
    timeouts: { response: 600ms, total: 600ms }
    retries: { attempts: 2, per_try_timeout: 400ms, backoff: { base: 1ms, max: 1ms } }
`);
  try {
    const res = await request(gw.url, { path: '/slow' });
    assert.equal(res.status, 504);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=http_response_timeout; details="no response head within the total timeout of 600 ms"/,
    );
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.status, 504);
    assert.equal(line.error, 'http_response_timeout');
    assert.equal(line.attempts, 2);
    // Both targets got the request: the first attempt timed out, the second was cut by the deadline.
    assert.equal(a.received.length + b.received.length, 2);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test("the total timeout passing while requests wait for a full pool's connection: the pool's 503, no target judged", async () => {
  const hole = await startBlackhole();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    request_buffering: false
upstreams:
  app:
    targets: [{ url: "${hole.url}" }]
    pool: { max_connections: 1, queue_timeout: 10s }
    timeouts: { response: 1s, total: 1s }
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2 }
`);
  try {
    const holder = request(gw.url, { path: '/held', headers: { 'x-request-id': 'held' } });
    await hole.waitForRequest(1);
    // Queued behind it: two GETs, and a POST whose body streams (the route reads none whole).
    const queued = [
      request(gw.url, { path: '/q1', headers: { 'x-request-id': 'q1' } }),
      request(gw.url, { path: '/q2', headers: { 'x-request-id': 'q2' } }),
      request(gw.url, { method: 'POST', path: '/q3', body: 'abc', headers: { 'x-request-id': 'q3' } }),
    ];
    const pool = poolOf(gw);
    await waitUntil('three requests queued', () => pool.stats().waiting === 3);
    // The loop held past every deadline: they pass in one turn, the queued ones still queued.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
    assert.equal((await holder).status, 504);
    for (const [i, res] of (await Promise.all(queued)).entries()) {
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=connection_limit_reached; details="no connection to the upstream freed up within the total timeout of 1000 ms: every one its pool may open was in use"/,
      );
      const line = await gw.logFor(`q${i + 1}`);
      assert.equal(line.error, 'connection_limit_reached');
      assert.equal(line.stage, 'not_sent');
    }
    // Was: 504 http_response_timeout for each, each judged a failure of the target, which
    // they never reached: ejected, two of them in a row.
    assert.equal(hole.received.length, 1);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
    );
  } finally {
    await gw.close();
    await hole.close();
  }
});
