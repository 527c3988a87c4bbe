/**
 * What a reload changes in `store.redis` (docs/operations.md, "Reload": a store the new config
 * changes is made anew, the old one kept for the older snapshot's requests): moved to another
 * Redis, the next rate-limited request is decided there (its connection made before the swap:
 * a reload fails no request), and the old server is asked nothing more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

/** One token every 1000 s, kept in `redis`; a store that cannot decide refuses (503). */
const config = (app: string, redis: string) => `name: edge-1
store: { redis: { url: "${redis}", on_error: deny, timeout: 1s } }
routes:
  - upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
upstreams:
  app:
    targets: [{ url: "${app}" }]
`;

test('store.redis moved to another Redis by a reload: the next request is decided by the new one, the old one asked nothing more', async (t) => {
  const app = await startEcho();
  const [first, second] = await Promise.all([startRedis(), startRedis()]);
  t.after(() => Promise.all([app.close(), first.kill(), second.kill()]));
  const gw = await startTestGateway(config(app.url, first.url));
  t.after(() => gw.close());
  await waitUntil('connected', () => gw.gateway.status().store?.state === 'up');
  assert.equal((await request(gw.url, { path: '/' })).status, 200);
  assert.equal((await request(gw.url, { path: '/' })).status, 429, "the first Redis's bucket spent");

  await reload(gw, config(app.url, second.url));
  // At once: the second Redis's connection is made before the swap. Nothing waits for one that
  // is not (no offline queue): a request let in before would be decided by on_error (deny: a
  // 503), and a reload must fail no request.
  const full = await request(gw.url, { path: '/', headers: { 'x-request-id': 'moved' } });
  assert.equal(
    full.status,
    200,
    `the second Redis's bucket, full: ${JSON.stringify(await gw.logFor('moved'))}`,
  );
  // The first Redis gone: a request still decided there would be refused 503 (on_error: deny).
  await first.kill();
  const spent = await request(gw.url, { path: '/' });
  assert.equal(spent.status, 429, 'decided by the second Redis: its bucket now spent');
  assert.equal(spent.headers['retry-after'], '1000');
  assert.equal(app.received.length, 2);
});
