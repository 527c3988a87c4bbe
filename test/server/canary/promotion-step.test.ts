/**
 * A canary's last step of 100, as Argo Rollouts users write it (`steps: [10, 50, 100]`), is its
 * promotion (issue 56 item 13): the controller judges the steps below it and, both passed,
 * promotes: every request goes to the canary, none is judged at 100 % (no baseline is left
 * there). On a library gateway and real upstreams; the test counts requests, never time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from './canary-fixture.ts';

test('steps: [10, 50, 100] judges 10 % and 50 %, then promotes: the canary takes every request', async () => {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  const config = `name: argo-steps
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [10, 50, 100], step_interval: 1s, min_requests: 30', stable.url, next.url)}`;
  const gw = await startGatewayFromText(config).catch(async (err: unknown) => {
    await stable.close();
    await next.close();
    throw err;
  });
  try {
    const lines = (msg: string) => gw.logs.filter((l) => l.msg === msg && l.route === 'api');
    const promoted = () => lines('canary action').some((l) => l.action === 'promote');
    const load = await paceLoad(gw.url, 200, promoted, 8000);
    assert.ok(promoted(), `not promoted after ${load.sent} requests`);
    assert.equal(load.statuses[200], load.sent);
    assert.deepEqual(
      lines('canary step').map((l) => [l.step, l.steps, l.share]),
      [
        [1, 3, 10],
        [2, 3, 50],
      ],
      'two steps judged; the 100 is no step of its own',
    );
    assert.equal(lines('canary step passed').length, 2);
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'promoted');
    assert.equal(status.share, 100);
    assert.equal(status.reason, 'passed every step');
    assert.deepEqual(status.steps, [10, 50, 100], 'the steps as written');
    const before = stable.received;
    const after = await paceLoad(gw.url, 200, () => false, 100);
    assert.equal(after.bodies.next, 100);
    assert.equal(stable.received, before);
  } finally {
    await gw.close();
    await stable.close();
    await next.close();
  }
});
