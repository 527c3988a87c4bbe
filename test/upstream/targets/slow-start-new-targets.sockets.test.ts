/**
 * `slow_start` ramps a target new to a running upstream (a reload that adds it, as a discovery
 * answer does: a new instance, its caches cold, its JIT not warmed), not only one coming back
 * from an ejection or a failed check: it starts at a tenth of its weight. The targets of an
 * upstream the gateway starts with (or one a reload adds whole) are all new alike and take their
 * shares at once. A slow_start of ten minutes, so that the test's own time never reaches its end:
 * shares are asserted as bounds, never timings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const config = (urls: readonly string[]) => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [${urls.map((url) => `{ url: "${url}" }`).join(', ')}]
    slow_start: 10m
`;

/** `n` GETs one after another, each answered 200. */
async function requests(gw: TestGateway, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await request(gw.url, { path: `/${tag}${i}` })).status, 200);
}

test('a target a reload adds to a running upstream starts at a tenth of its weight; those of a new upstream take their shares at once', async () => {
  const a = await keep(startEcho());
  const b = await keep(startEcho());
  const c = await keep(startEcho());
  const gw = await keep(startTestGateway(config([a.url, b.url])));
  await requests(gw, 40, 'start');
  assert.deepEqual([a.received.length, b.received.length], [20, 20], 'at start: no ramp');

  await gw.gateway.reload(
    parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config([a.url, b.url, c.url])}`, '<test>', {}),
  );
  const [fromA, fromB] = [a.received.length, b.received.length];
  await requests(gw, 60, 'after');
  const added = c.received.length;
  // At a tenth of its weight (a little more as its ten minutes go by), about 5 % of the requests: at
  // its full weight it would take a third.
  assert.ok(added >= 1 && added <= 8, `the added target took ${added} of 60`);
  assert.equal(a.received.length - fromA + (b.received.length - fromB) + added, 60);
  const kept = gw.gateway.runtime().upstreams.get('app')?.targets;
  assert.ok(kept);
  assert.deepEqual(
    kept.map((t) => Number.isFinite(t.inRotationSince)),
    [false, false, true],
    'the kept targets are not ramped again',
  );
});
