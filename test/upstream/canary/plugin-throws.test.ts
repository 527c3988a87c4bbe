/**
 * A plugin belongs to its route, not to either side of the route's canary: its bug (a 500
 * `proxy_internal_error` naming it) counts against neither side. But a plugin that throws in
 * onResponse does so after the side drawn had answered, and that answer says what the side did: it
 * counts as it came (its status, its latency), or a plugin that chokes on the canary's 503s (a
 * body it cannot read, a field it does not expect) hid those 503s from the judge, and the canary
 * was promoted on answers never counted. One that throws in onRequest, before any side was asked,
 * counts on neither. (A plugin's own hop that fails after the side answered: plugin-hop-failures.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import type { SideCounts, WindowCounts } from '../../../src/upstream/canary/canary-window.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

const picky: Plugin = () => ({
  onRequest(request) {
    if (request.path === '/before') throw new Error('a bug before the upstream');
  },
  onResponse() {
    throw new Error('a bug on every answer');
  },
});

test("a plugin's throw on a canary route counts against neither side; the answer it threw on counts as it came", async (t) => {
  const stable = await listenOnLoopback((_req, res) => res.writeHead(200).end('stable'));
  const next = await listenOnLoopback((_req, res) => res.writeHead(503).end('next'));
  t.after(() => Promise.all([stable.close(), next.close()]));
  const gw = await startGatewayFromText(
    `name: edge-1
listen:
  - address: 127.0.0.1:0
plugins:
  picky: { module: /nonexistent/picky.ts }
routes:
  - name: api
    match: { path: / }
    upstream: stable
    plugins: [picky]
    canary: { upstream: next, steps: [50], step_interval: 100s, check_interval: 25s, max_duration: 1h }
upstreams:
  stable: { targets: [{ url: "${stable.url}" }] }
  next: { targets: [{ url: "${next.url}" }] }
`,
    {},
    { plugins: { picky } },
  );
  t.after(() => gw.close());
  const split = () => gw.gateway.runtime().splits.get('api');
  const deadline = Date.now() + 15_000;
  while (split()?.sides[0].weight !== 50) {
    assert.ok(Date.now() < deadline, 'the canary never reached its first step');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  split()?.window?.take(); // what came before: not this test's

  const failures = (side: SideCounts) =>
    side.unreachable + side.slow + side.reset + side.garbage + side.gateway;
  const samples = (side: SideCounts) => side.latency.reduce((sum, n) => sum + n, 0);
  const statuses = async (path: string) => {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add((await request(gw.url, { path, timeoutMs: 5000 })).status);
    return [...seen];
  };

  assert.deepEqual(await statuses('/after'), [500]);
  const after = split()?.window?.take() as WindowCounts;
  assert.equal(after.baseline.requests + after.canary.requests, 20, 'each answer counted on its side');
  assert.deepEqual(
    [after.baseline, after.canary].map((side) => [failures(side), side.status_5xx, samples(side)]),
    [
      [0, 0, after.baseline.requests],
      // A 503 is its 5xx, no latency sample: a fast error is no fast answer (fast-errors.test.ts).
      [0, after.canary.requests, 0],
    ],
    "the canary's 503s counted as its 5xx, the baseline's 200s as answers, the plugin's 500s as nobody's",
  );

  assert.deepEqual(await statuses('/before'), [500]);
  const before = split()?.window?.take() as WindowCounts;
  assert.deepEqual([before.baseline.requests, before.canary.requests], [0, 0], 'no side was asked');
});
