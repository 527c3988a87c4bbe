/**
 * `store.redis.timeout` against the gateway's own lag: a worker's loop held (a plugin that
 * computes, a long collection, a CPU saturated by load) past the timeout while Redis's answer
 * waits unread in the socket. Timers run before I/O, so the call's timer fired first: the store
 * was told down ("rate limit store unreachable"), and the request got on_error's answer (a 503
 * under `deny`) for a decision Redis had made at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startFakeRedis } from '../../helpers/fake-redis.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("the loop held past store.redis.timeout while Redis's decision waits in the socket: the decision, the store still up", async () => {
  const echo = await startEcho();
  let hold = false;
  let held = 0;
  // Each script call is answered at once (a wait of 0: allowed); once `hold` is set, the loop is
  // then held 800 ms in the same turn, past the 300 ms timeout, the reply written and unread.
  const store = await startFakeRedis(() => {
    if (hold && held++ === 0)
      queueMicrotask(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800));
    return ':0\r\n';
  });
  const gw = await startTestGateway(`
store:
  redis: { url: "${store.url}", on_error: deny, timeout: 300ms }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 100, burst: 100 }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  try {
    await waitUntil('connected to the store', () => gw.gateway.status().store?.state === 'up');
    hold = true;
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': 'held' } });
    assert.equal(held, 1, 'the loop was held once');
    // Was: 503 proxy_internal_response "the rate limit store could not decide (… timed out)".
    assert.equal(res.status, 200);
    assert.equal(gw.gateway.status().store?.state, 'up');
    assert.deepEqual(
      gw.logs.filter((l) => l.msg.startsWith('rate limit store unreachable')),
      [],
    );
  } finally {
    await gw.close();
    await store.close();
    await echo.close();
  }
});
