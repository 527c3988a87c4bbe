/**
 * The cache on a canary route: a stored answer that stands in for the canary's failure
 * (stale-if-error) hides nothing from the judge: the canary's window counts the failure the
 * client was spared, as it counts one the client saw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test("a stale answer for the canary's failure: the client gets the stored page, the canary's window counts the failure", async () => {
  const fields = ['Content-Type', 'text/plain', 'Cache-Control', 'max-age=0, stale-if-error=60'];
  const stable = await startMoodyOrigin({ status: 200, fields, body: 'stable' });
  const next = await startMoodyOrigin({ status: 200, fields, body: 'next' });
  // One look an hour: the window is the test's to read, not taken by the controller meanwhile.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    cache: {}
    hash_key: header:X-User
    canary: { upstream: next, steps: [50], step_interval: 1h, check_interval: 1h }
upstreams:
  stable:
    targets:
      - url: ${stable.url}
  next:
    retries: { attempts: 1 }
    targets:
      - url: ${next.url}
`);
  try {
    // Four users the hash places on the canary (below its 50 %: it is the split's first side):
    // a key counts one request a step (split.ts), so each stale answer below is another user's.
    const users: string[] = [];
    for (let n = 0; users.length < 4; n++) if (keyPoint(`u${n}`) < 0.5) users.push(`u${n}`);
    const first = await request(gw.url, { path: '/page', headers: { 'x-user': users[0] } });
    assert.equal(first.text, 'next', 'a user on the canary; its page stored');
    const window = gw.gateway.runtime().splits.get('api')?.window;
    assert.ok(window);
    window.take();
    // The canary answers 503 from now on; its stored page stands in for each.
    next.mood = 'status_503';
    for (const user of users.slice(1)) {
      const r = await request(gw.url, { path: '/page', headers: { 'x-user': user } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'next');
      assert.match(String(r.headers['cache-status']), /; fwd=stale; fwd-status=503;/);
    }
    const counts = window.take();
    assert.equal(counts.canary.requests, 3);
    assert.equal(counts.canary.status_5xx, 3);
    assert.equal(counts.baseline.requests, 0);
  } finally {
    await gw.close();
    await stable.stop();
    await next.stop();
  }
});
