/**
 * The route's total deadline: when it passes while an attempt is still waiting (a retry
 * included), the client gets its answer at once — never silence — of the type that says what the
 * attempt was waiting for: a response head, a connection being made (504), or one of a full
 * pool's busy connections (the 503 of a queue wait).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { forwardAuthConfig, startAuthStage } from '../helpers/auth-service.ts';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';
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
      'edge-1; error=connection_limit_reached; details="the auth service: no connection came free within the timeout of 300 ms: every one was busy"; next-hop="auth:sso"',
    );
    assert.equal((await gw.logFor('queued')).auth, 'failed: connection_limit_reached');
    assert.equal(hanging.received.length, 1, 'the auth call never reached the service');
    assert.equal((await holding).status, 504);
    assert.equal(echo.received.length, 0);
  } finally {
    await close(hanging);
  }
});
