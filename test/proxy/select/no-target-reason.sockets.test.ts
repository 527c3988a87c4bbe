/**
 * The 503 of an upstream with no target in rotation counts each target once, under the reason
 * that keeps it out first (issue 32, item 5 of its tester's findings): a target the operator
 * drained is the operator's, whether it also fails its health checks or was ejected; it was
 * counted under each, so two targets read as three.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

function upstreamOf(gw: TestGateway) {
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  return upstream;
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const proxyStatus = (details: string) =>
  `edge-1; error=destination_unavailable; details="${details}"; next-hop="app"`;

test('a drained target failing its health checks is counted once, as drained', async () => {
  // Refusing ports that stay refused: a port the system picked and let go may be another test
  // file's server by the time the checks reach it.
  const refusing = [await startRefusing(), await startRefusing()];
  const [a, b] = refusing.map((fault) => fault.url);
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${a}" }, { url: "${b}" }]
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 2, fall: 2 }
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
  try {
    const upstream = upstreamOf(gw);
    await waitUntil('down', () => upstream.targets.every((t) => !t.checkedHealthy));
    gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: a, state: 'draining' });
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 503);
    assert.equal(
      res.headers['proxy-status'],
      proxyStatus(
        'no target of \\"app\\" is in rotation (1 drained, disabled or weighted 0 by an operator, 1 failing health checks)',
      ),
    );
  } finally {
    await gw.close();
    await Promise.all(refusing.map((fault) => fault.close()));
  }
});

test('a drained target that was ejected is counted once, as drained', async () => {
  const refusing = await startRefusing();
  const a = refusing.url;
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${a}" }]
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    retries: { attempts: 1 }
`);
  try {
    assert.equal((await request(gw.url, { path: '/first' })).status, 502);
    const [target] = upstreamOf(gw).targets;
    assert.equal(target.isEjected(performance.now()), true, 'ejected by its refusal');
    gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: a, state: 'draining' });
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 503);
    assert.equal(
      res.headers['proxy-status'],
      proxyStatus('no target of \\"app\\" is in rotation (1 drained, disabled or weighted 0 by an operator)'),
    );
  } finally {
    await gw.close();
    await refusing.close();
  }
});
