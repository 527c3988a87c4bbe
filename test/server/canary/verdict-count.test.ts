/**
 * What a canary's verdicts are counted and shown as, on a library gateway on real sockets.
 * candor_canary_verdicts_total counts canary steps judged: each step that passed is one `pass`,
 * whatever follows it (the next step, a promotion, a hold). `failed_metric` is the metric a
 * verdict stopped the canary on; an operator who then takes the wheel (a rollback, a promotion,
 * a share set by hand) stops it by hand, which is no verdict: failed_metric null (the status
 * page's panel amber, not red), as the reason says.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(stable, next));

/** A library gateway with route `api` (baseline `stable`, canary `next`); `canary` is the flow mapping's inside. */
function startLibrary(canary: string, extra = ''): Promise<TestGateway> {
  return startGatewayFromText(`name: library-edge
listen:
  - address: 127.0.0.1:0
${extra}${canaryRoutes(canary, stable.url, next.url)}`);
}

test('a canary held after passing both its steps counts two passes in candor_canary_verdicts_total', async () => {
  const gw = await startLibrary(
    'steps: [10, 30], step_interval: 1s, min_requests: 30, on_success: hold',
    'metrics: { listen: "127.0.0.1:0" }\n',
  );
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

test("an operator's rollback, share by hand or promotion after a verdict's pause names no failed metric", async () => {
  const gw = await startLibrary('steps: [10, 30], step_interval: 1s, min_requests: 100, on_failure: pause');
  try {
    next.resetEvery = 20;
    const paused = () => gw.gateway.canaries()[0]?.phase === 'paused';
    const load = await paceLoad(gw.url, 200, paused, 6000);
    assert.ok(paused(), `not paused after ${load.sent} requests`);
    assert.equal(gw.gateway.canaries()[0].failed_metric, 'reset');

    const rolledBack = await gw.gateway.canary('api', 'rollback', 'ops');
    assert.ok('status' in rolledBack, JSON.stringify(rolledBack));
    assert.equal(rolledBack.status.phase, 'rolled_back');
    assert.equal(rolledBack.status.reason, 'rolled back by ops');
    assert.equal(rolledBack.status.failed_metric, null);

    // Started again, paused again by its verdict, then its share set by hand.
    assert.ok('status' in (await gw.gateway.canary('api', 'start', 'ops')));
    const again = await paceLoad(gw.url, 200, paused, 6000);
    assert.ok(paused(), `not paused again after ${again.sent} requests`);
    assert.equal(gw.gateway.canaries()[0].failed_metric, 'reset');
    gw.gateway.apply({
      kind: 'split',
      route: 'api',
      sides: [
        { upstream: 'next', weight: 1 },
        { upstream: 'stable', weight: 3 },
      ],
    });
    const byHand = () => gw.gateway.canaries()[0].reason?.startsWith('share set by hand') === true;
    await paceLoad(gw.url, 200, byHand, 1000);
    assert.ok(byHand(), 'the share set by hand');
    assert.equal(gw.gateway.canaries()[0].failed_metric, null);

    const promoted = await gw.gateway.canary('api', 'promote', 'ops');
    assert.ok('status' in promoted, JSON.stringify(promoted));
    assert.equal(promoted.status.phase, 'promoted');
    assert.equal(promoted.status.failed_metric, null);
  } finally {
    next.resetEvery = 0;
    await gw.close();
  }
});
