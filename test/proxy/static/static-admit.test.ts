/**
 * A static route meets access control and the admit policies as any route does, though it has no
 * upstream: an IP list refuses (403), maintenance answers 503 with Retry-After, a rate limit 429,
 * each logged with no upstream; and a request they let through is answered from root.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const root = tempDir('candor-static-admit-');
let gw: TestGateway;

before(async () => {
  writeFileSync(join(root, 'a.txt'), 'A');
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /denied }
    static: { root: ${root} }
    allow: [10.0.0.0/8]
  - match: { path: /down }
    static: { root: ${root} }
    maintenance: { retry_after: 30s, message: Back soon. }
  - match: { path: /limited }
    static: { root: ${root} }
    rate_limit: { rate: 0.001, burst: 1 }
`);
});

after(async () => {
  await gw?.close();
  rmSync(root, { recursive: true, force: true });
});

test('an IP list, maintenance and a rate limit act on a static route, which has no upstream', async () => {
  const denied = await request(gw.url, { path: '/denied/a.txt', headers: { 'x-request-id': 'denied-1' } });
  assert.equal(denied.status, 403);
  const down = await request(gw.url, { path: '/down/a.txt' });
  assert.equal(down.status, 503);
  assert.equal(down.headers['retry-after'], '30');
  const first = await request(gw.url, { path: '/limited/a.txt' });
  assert.equal(first.status, 200);
  assert.equal(first.text, 'A');
  const second = await request(gw.url, { path: '/limited/a.txt' });
  assert.equal(second.status, 429);
  const line = await gw.logFor('denied-1');
  assert.equal(line.upstream, undefined);
  assert.equal(line.route, '/denied');
});
