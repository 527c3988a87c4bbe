/**
 * The route's total deadline: when it passes while an attempt is still waiting (a retry
 * included), the client gets its 504 at once — never silence — of the type that says what the
 * attempt was waiting for: a response head, or a connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';

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
