/**
 * The route's total deadline: when it passes while an attempt is still waiting (a retry
 * included), the client gets its answer at once — never silence — of the type that says what the
 * attempt was waiting for: a response head, a connection being made (504), or one of a full
 * pool's busy connections (the pool's 503, which judges no target).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { forwardAuthConfig, startAuthStage } from '../helpers/auth-service.ts';
import { request } from '../helpers/http-client.ts';
import { poolOf, singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';
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

test('the total timeout passing while the connection is still being made answers 504 connection_timeout, not "no response head"', async () => {
  const unaccepting = await startUnaccepting();
  const gw = await startTestGateway(
    singleUpstream(unaccepting.url, {
      upstream: '    timeouts: { connect: 5s, response: 300ms, total: 300ms }\n',
    }),
  );
  try {
    const res = await request(gw.url, {
      headers: { accept: 'application/json', 'x-request-id': 'connecting' },
    });
    assert.equal(res.status, 504);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=connection_timeout; details="no connection made within the total timeout of 300 ms"; next-hop="app"',
    );
    assert.equal(JSON.parse(res.text).error, 'connection_timeout');
    const line = await gw.logFor('connecting');
    assert.equal(line.error, 'connection_timeout');
    assert.equal(line.shape, 'unreachable');
    assert.equal(line.stage, 'not_sent');
    assert.equal(unaccepting.received.length, 0);
  } finally {
    await gw.close();
    await unaccepting.close();
  }
});

test('a deadline passing while the request waits behind a full pool is the 503 connection_limit_reached of a queue wait, not a 504 "no response head"', async () => {
  // The auth hop's `timeout` is its call's deadline: shorter than its pool's queue_timeout, it
  // passes while the call waits for the one connection, which a request of another route holds.
  const hanging = await startBlackhole();
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, '{ upstream: sso, path: /verify, timeout: 300ms }', {
      upstreams: `  sso:
    targets: [{ url: ${hanging.url} }]
    pool: { max_connections: 1, queue_timeout: 5s }
    timeouts: { response: 2s }
`,
    }).replace('routes:\n', 'routes:\n  - match: { path: /sso }\n    upstream: sso\n'),
  );
  try {
    const holding = request(gw.url, { path: '/sso' });
    await waitUntil('the request holding the connection', () => hanging.received.length === 1);
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'queued' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=connection_limit_reached; details="the auth service: no connection to the upstream freed up within the timeout of 300 ms: every one its pool may open was in use"; next-hop="auth:sso"',
    );
    assert.equal((await gw.logFor('queued')).auth, 'failed: connection_limit_reached');
    assert.equal(hanging.received.length, 1, 'the auth call never reached the service');
    assert.equal((await holding).status, 504);
    assert.equal(echo.received.length, 0);
  } finally {
    await close(hanging);
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
