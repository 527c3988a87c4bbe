/**
 * A key's one vote a step (issue 56 item 2) goes to its first request that reached a side, not
 * to its first request drawn to one: on a cached route a user's first request of a step is
 * often a hit, which no side answered. Before, the key's vote went with that hit: ten users each
 * opening a cached page and then calling the canary were one vote (the first user's miss), nine
 * requests that reached the canary judged by nobody, and a canary on a cached route short of
 * `min_requests` for want of votes its users had.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A version whose `/page` may be stored a minute and whose other paths may not; `seen` counts what reached it. */
async function version(name: string) {
  const seen: string[] = [];
  const server = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    const cc = req.url === '/page' ? 'public, max-age=60' : 'no-store';
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': cc }).end(name);
  });
  return { ...server, seen };
}

test('a user whose first request of the step is a cache hit still has its vote: its first request that reached the canary', async () => {
  const stable = await version('stable');
  const next = await version('next');
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    cache: {}
    hash_key: header:X-User
    canary: { upstream: next, steps: [50], step_interval: 1h, check_interval: 1h }
upstreams:
  stable: { targets: [{ url: ${stable.url} }] }
  next: { targets: [{ url: ${next.url} }] }
`);
  try {
    const users: string[] = [];
    for (let n = 0; users.length < 10; n++) if (keyPoint(`u${n}`) < 0.5) users.push(`u${n}`);
    const window = gw.gateway.runtime().splits.get('api')?.window;
    assert.ok(window);
    window.take();
    for (const user of users) {
      const page = await request(gw.url, { path: '/page', headers: { 'x-user': user } });
      assert.equal(page.text, 'next');
      for (let i = 0; i < 2; i++) {
        const call = await request(gw.url, { path: '/orders', headers: { 'x-user': user } });
        assert.equal(call.text, 'next');
      }
    }
    assert.deepEqual(
      [next.seen.filter((p) => p === '/page').length, next.seen.filter((p) => p === '/orders').length],
      [1, 20],
      'one miss of the page, every call reached the canary',
    );
    const counts = window.take();
    assert.equal(counts.canary.requests, 10, 'each user one vote: its first request that reached the canary');
    assert.equal(counts.baseline.requests, 0);
  } finally {
    await gw.close();
    await stable.close();
    await next.close();
  }
});
