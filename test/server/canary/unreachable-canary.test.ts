/**
 * A canary whose upstream refuses every connection (its port closed) is judged failing, not
 * left out: its refused attempts (and, once its target is out of rotation, the gateway's
 * refusals for want of one) count on its side, and it is rolled back at the first decided look,
 * the reason saying so in words a person reads: a p-value too small to print is "p < 1e-12",
 * not "p = < 1e-12".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from './canary-fixture.ts';

test('a canary whose connections are all refused is rolled back on them, its reason readable', async () => {
  const gw = await startCanaryGateway(
    'steps: [20, 40], step_interval: 4s, check_interval: 1s, min_requests: 100',
  );
  try {
    await gw.next.close();
    await gw.serve.waitForLines('canary step', 1);
    const rolledBack = () => gw.linesOf('canary worse').length > 0;
    const load = await paceLoad(gw.base, 300, rolledBack, 6000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    assert.deepEqual(gw.linesOf('canary step passed'), []);
    const [worse] = gw.linesOf('canary worse');
    assert.ok(['unreachable', 'gateway'].includes(String(worse.metric)), `rolled back on ${worse.metric}`);
    assert.equal(worse.action, 'rollback');
    assert.equal(worse.step, 1);
    // Every canary request failed, 100 or more, against none of the baseline's: far past 1e-12.
    assert.ok(Number(worse.p_value) < 1e-12, `p = ${worse.p_value}`);
    assert.match(
      String(worse.reason),
      /^(unreachable|gateway) worse on the canary: \d+\/\d+ \([\d.]+%\) against 0\/\d+ \(0\.00%\) on the baseline \(p < 1e-12\)$/,
    );
    // The judge's line comes as it decides; the admin API's view of the canary a moment after
    // (under a loaded machine, a look or more): asked until it says so.
    let canary: Record<string, unknown> = {};
    for (let tries = 0; tries < 100 && canary.phase !== 'rolled_back'; tries++) {
      if (tries > 0) await new Promise((r) => setTimeout(r, 50));
      const { body } = await gw.call('GET', '/canary');
      [canary] = body.canaries as Record<string, unknown>[];
    }
    assert.deepEqual([canary.phase, canary.share, canary.reason], ['rolled_back', 0, worse.reason]);
  } finally {
    await gw.stop();
  }
});
