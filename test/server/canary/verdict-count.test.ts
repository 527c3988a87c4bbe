/**
 * candor_canary_verdicts_total counts canary steps judged: each step that passed is one `pass`,
 * whatever follows it (the next step, a promotion, a hold). A library gateway on real sockets,
 * a healthy canary held after its two steps: two passes, and the share where the last step left it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(async () => {
  await stable.close();
  await next.close();
});

test('a canary held after passing both its steps counts two passes in candor_canary_verdicts_total', async () => {
  const gw = await startGatewayFromText(`name: library-edge
listen:
  - address: 127.0.0.1:0
metrics: { listen: "127.0.0.1:0" }
${canaryRoutes('steps: [10, 30], step_interval: 1s, min_requests: 30, on_success: hold', stable.url, next.url)}`);
  try {
    const held = () => gw.logs.some((l) => l.msg === 'canary action' && l.action === 'hold');
    const load = await paceLoad(gw.url, 200, held, 8000);
    assert.ok(held(), `not held after ${load.sent} requests`);
    assert.equal(gw.logs.filter((l) => l.msg === 'canary step passed').length, 2);
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'held');
    assert.equal(status.share, 30);
    const res = await fetch(`http://127.0.0.1:${gw.gateway.metricsPort()}/metrics`);
    const metrics = await res.text();
    assert.match(metrics, /candor_canary_verdicts_total\{route="api",verdict="pass",metric=""\} 2\n/);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="next"\} 30\n/);
    assert.doesNotMatch(metrics, /candor_canary_verdicts_total\{route="api",verdict="worse"/);
  } finally {
    await gw.close();
  }
});
