/**
 * A canary is judged on what its upstreams did: a plugin's `context.fetch` whose service is down,
 * let out of onResponse, answers the request as that service's 502 (`next-hop="svc"`) after the
 * side drawn had answered 200. The side's window counted it as that side's `unreachable`, so a
 * plugin's dependency down rolled back a healthy canary (or passed a bad one, landing on the
 * baseline). Another hop's failure counts on neither side; the side's answer it came after counts
 * as it came.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import type { WindowCounts } from '../../../src/upstream/canary/canary-window.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const audit: Plugin = (_options, context) => ({
  async onResponse(_response, request) {
    await context.fetch('svc', '/audit', { request });
  },
});

test("a plugin's hop that fails in onResponse counts on neither side of a canary's window", async (t) => {
  const origin = (name: string) => listenOnLoopback((_req, res) => res.writeHead(200).end(name));
  const stable = await origin('stable');
  const next = await origin('next');
  t.after(() => Promise.all([stable.close(), next.close()]));
  const nobody = await freePort();
  const gw = await startGatewayFromText(
    `name: edge-1
listen:
  - address: 127.0.0.1:0
plugins:
  audit: { module: /nonexistent/audit.ts }
routes:
  - name: api
    match: { path: / }
    upstream: stable
    plugins: [audit]
    canary: { upstream: next, steps: [50], step_interval: 100s, check_interval: 25s, max_duration: 1h }
upstreams:
  stable: { targets: [{ url: "${stable.url}" }] }
  next: { targets: [{ url: "${next.url}" }] }
  svc: { targets: [{ url: "http://127.0.0.1:${nobody}" }], retries: { attempts: 1 } }
`,
    {},
    { plugins: { audit } },
  );
  t.after(() => gw.close());
  const split = () => gw.gateway.runtime().splits.get('api');
  const deadline = Date.now() + 15_000;
  while (split()?.sides[0].weight !== 50) {
    assert.ok(Date.now() < deadline, 'the canary never reached its first step');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  split()?.window?.take(); // what came before: not this test's

  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await request(gw.url, { path: '/', timeoutMs: 5000 })).status);
  assert.deepEqual(statuses, Array<number>(12).fill(502));
  const taken = split()?.window?.take() as WindowCounts;
  const failures = (side: WindowCounts['canary']) => side.unreachable + side.gateway;
  assert.deepEqual([failures(taken.canary), failures(taken.baseline)], [0, 0]);
  // The sides' 200s it came after count as they came (plugin-throws.test.ts).
  assert.equal(taken.canary.requests + taken.baseline.requests, 12);
  assert.deepEqual([taken.canary.status_5xx, taken.baseline.status_5xx], [0, 0]);
});
