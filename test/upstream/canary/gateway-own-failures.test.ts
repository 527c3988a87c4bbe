/**
 * A canary is judged on what its upstream did, not on the gateway's own machine: out of file
 * descriptors (RLIMIT_NOFILE lowered with prlimit, so the upstream connect fails with a real
 * EMFILE), every request is the gateway's 503 proxy_resources_exhausted, its target never asked.
 * The circuit and outlier detection already judged no target by it; the canary's window counted
 * it as a `gateway` failure of the side it was drawn to, so an exhaustion that fell on the
 * canary's requests rolled it back for the gateway's own want of descriptors.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { WindowCounts } from '../../../src/upstream/canary/canary-window.ts';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

test("the gateway out of descriptors: its 503s count on neither side of a canary's window", async (t) => {
  // Connection: close: no upstream connection is kept, so each request needs a new descriptor.
  const origin = (name: string) =>
    listenOnLoopback((_req, res) => res.writeHead(200, { connection: 'close' }).end(name));
  const stable = await origin('stable');
  const next = await origin('next');
  t.after(() => Promise.all([stable.close(), next.close()]));
  const gw = await startGatewayFromText(`name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: stable
    canary: { upstream: next, steps: [50], step_interval: 100s, check_interval: 25s, max_duration: 1h }
upstreams:
  stable:
    targets: [{ url: "${stable.url}" }]
    retries: { attempts: 1 }
  next:
    targets: [{ url: "${next.url}" }]
    retries: { attempts: 1 }
`);
  t.after(() => gw.close());
  const split = () => gw.gateway.runtime().splits.get('api');
  const deadline = Date.now() + 15_000;
  while (split()?.sides[0].weight !== 50) {
    assert.ok(Date.now() < deadline, 'the canary never reached its first step');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/', agent)).status, 200);
  split()?.window?.take(); // what came before: not this test's

  const statuses: number[] = [];
  const release = exhaustDescriptors();
  try {
    for (let i = 0; i < 16; i++) statuses.push((await get(gw.url, '/', agent)).status);
  } finally {
    release();
  }
  assert.deepEqual(statuses, Array<number>(16).fill(503));
  const errors = gw.logs.filter((l) => l.msg === 'request' && l.status === 503).map((l) => l.error);
  assert.deepEqual(errors, Array<string>(16).fill('proxy_resources_exhausted'));
  const taken = split()?.window?.take() as WindowCounts;
  const counted = (side: WindowCounts['canary']) => ({ requests: side.requests, gateway: side.gateway });
  assert.deepEqual(
    { canary: counted(taken.canary), baseline: counted(taken.baseline) },
    { canary: { requests: 0, gateway: 0 }, baseline: { requests: 0, gateway: 0 } },
  );
});
