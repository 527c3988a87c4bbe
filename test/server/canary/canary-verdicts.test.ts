/**
 * The canary controller of a real `candor serve` judging real upstreams (issue 36): a canary
 * whose target resets 5 % of its requests is rolled back within two step intervals (counted in
 * the controller's looks, one each check_interval), one 150 ms slower is rolled back on latency,
 * a healthy one is promoted (twenty runs, none rolled back; twenty more with simulated counts in
 * canary-looks.test.ts), one with too few requests is not judged. The tests count requests and
 * looks, never time: about 200 requests a second, as fast as a loaded machine allows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from './canary-fixture.ts';

test('a canary that resets 5 % of its requests at 200 requests a second is rolled back within two step intervals; under 1 % of all requests failed', async () => {
  // 10 % of 200 a second: the canary has 20 requests a second, a reset every 20th, and four
  // resets against none (80 requests, about 4 s) are what the exact test needs to be sure at a
  // sixth of the confidence. A step is 6 s, looked at every second: the rollback must come by
  // the 12th look. min_requests 80: a step passes on no fewer (at 60, a loaded machine's pace gave
  // the canary 60 to 79 requests and three resets by the step's end, and it passed to 30 %).
  const gw = await startCanaryGateway(
    'steps: [10, 30], step_interval: 6s, check_interval: 1s, min_requests: 80',
  );
  try {
    gw.next.resetEvery = 20;
    await gw.serve.waitForLines('canary step', 1);
    const rolledBack = () => gw.linesOf('canary worse').length > 0;
    const load = await paceLoad(gw.base, 200, rolledBack, 6000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    const [worse] = gw.linesOf('canary worse');
    assert.equal(worse.metric, 'reset');
    assert.equal(worse.action, 'rollback');
    // Within two step intervals: in the first step (the canary began there), by its 12th look.
    assert.equal(worse.share, 10);
    assert.equal(worse.step, 1);
    assert.equal(worse.looks, 6, 'looks a step: step_interval / check_interval');
    assert.ok(Number(worse.look) <= 2 * Number(worse.looks), `rolled back at look ${worse.look}`);
    assert.deepEqual(gw.linesOf('canary step passed'), [], 'no step passed before it');
    assert.match(String(worse.canary_figure), /^\d+\/\d+ \(\d+\.\d\d%\)$/);
    assert.match(String(worse.baseline_figure), /^0\/\d+ \(0\.00%\)$/);
    // The confidence is split over the metrics (8) and, before the step's end, over its looks (6).
    assert.ok(Number(worse.p_value) < Number(worse.alpha), `p = ${worse.p_value}`);
    if (Number(worse.look) < 6) assert.ok(Math.abs(Number(worse.alpha) - 0.01 / 8 / 6) < 1e-12);
    const failed = load.sent - (load.statuses[200] ?? 0);
    assert.ok(failed < load.sent / 100, `${failed} of ${load.sent} failed`);
    assert.ok(failed > 0, 'the resets reached the clients (no retry hid them)');
    // From the rollback on, the canary gets nothing.
    await gw.serve.waitForLines('canary action', 2);
    const before = gw.next.received;
    const after = await paceLoad(gw.base, 200, () => false, 200);
    assert.equal(after.statuses[200], 200);
    assert.equal(gw.next.received, before);
    const { body } = await gw.call('GET', '/canary');
    const [canary] = body.canaries as Record<string, unknown>[];
    assert.equal(canary.phase, 'rolled_back');
    assert.equal(canary.share, 0);
    assert.match(
      String(canary.reason),
      /^reset worse on the canary: \d+\/\d+ \(.*\) against 0\/\d+ \(0\.00%\) on the baseline \(p = /,
    );
    // The deploy timeline has the canary's start, its first step and its rollback, with the why.
    const events = (await gw.call('GET', '/events')).body.events as Record<string, unknown>[];
    const canaryEvents = events.filter((e) => e.kind === 'canary');
    assert.deepEqual(
      canaryEvents.map((e) => [e.action, e.weight]),
      [
        ['start', 0],
        ['step', 10],
        ['rollback', 0],
      ],
    );
    const rollback = canaryEvents[2];
    assert.equal(rollback.upstream, 'next');
    assert.equal(rollback.reason, canary.reason);
    console.log(
      `rollback at look ${worse.look} of ${worse.looks} after ${load.sent} requests, ${failed} failed; ${worse.reason}`,
    );
  } finally {
    await gw.stop();
  }
});

test('a canary 150 ms slower at the median is rolled back on latency', async () => {
  const gw = await startCanaryGateway('steps: [10, 30], step_interval: 1s, min_requests: 30');
  try {
    gw.next.delayMs = 150;
    await gw.serve.waitForLines('canary step', 1);
    const rolledBack = () => gw.linesOf('canary worse').length > 0;
    const load = await paceLoad(gw.base, 200, rolledBack, 6000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    const [worse] = gw.linesOf('canary worse');
    assert.equal(worse.metric, 'latency');
    assert.equal(worse.share, 10);
    // At least its 150 ms (a loaded machine adds its own: 207.6 in one full run).
    assert.match(String(worse.canary_figure), /^median (1[5-9]|[2-9]\d)\d\.\d ms \(\d+ samples\)$/);
    assert.equal(load.statuses[200], load.sent, 'slow, not failing');
  } finally {
    await gw.stop();
  }
});

// The target on real sockets: twenty runs. Steps of 25 % and 50 % at 300 requests a
// second give each side its minimum within a step interval of half a second (the canary's
// smaller side: 37 requests against 30), so a run takes about one second. On a machine too
// loaded to send them, a side short of its minimum makes the step wait for the next look: the
// run takes longer, it does not fail.
test('a healthy canary is promoted with no false rollback in 20 runs in a row', async () => {
  const gw = await startCanaryGateway('steps: [25, 50], step_interval: 500ms, min_requests: 30');
  try {
    for (let run = 1; run <= 20; run++) {
      if (run > 1) {
        const started = await gw.call('POST', '/canary/start', { route: 'api' });
        assert.equal(started.status, 200);
      }
      const promoted = () => gw.linesOf('canary action').filter((l) => l.action === 'promote').length >= run;
      const load = await paceLoad(gw.base, 300, promoted, 12000);
      assert.ok(promoted(), `run ${run}: not promoted after ${load.sent} requests`);
      assert.equal(load.statuses[200], load.sent);
      assert.deepEqual(gw.linesOf('canary worse'), [], `run ${run}: no step judged worse`);
    }
    assert.deepEqual(
      gw.linesOf('canary action').filter((l) => l.action === 'rollback'),
      [],
      'no rollback in twenty runs',
    );
    const passed = gw.linesOf('canary step passed');
    assert.equal(passed.length, 40, 'two steps passed in each of the twenty runs');
    // Promoted: every request goes to the canary.
    const before = gw.stable.received;
    const after = await paceLoad(gw.base, 200, () => false, 100);
    assert.equal(after.bodies.next, 100);
    assert.equal(gw.stable.received, before);
  } finally {
    await gw.stop();
  }
});

test('a canary with too few requests is not judged: it stays at its step', async () => {
  const gw = await startCanaryGateway('steps: [10, 30], step_interval: 1s, min_requests: 1000');
  try {
    gw.next.resetEvery = 2; // half its requests fail: still nothing may be decided on a handful
    await gw.serve.waitForLines('canary step', 1);
    const load = await paceLoad(
      gw.base,
      50,
      () => gw.linesOf('canary step not judged: too few requests').length >= 2,
      3000,
    );
    assert.ok(gw.linesOf('canary step not judged: too few requests').length >= 2, `after ${load.sent}`);
    assert.deepEqual(gw.linesOf('canary worse'), []);
    assert.deepEqual(gw.linesOf('canary step passed'), []);
    const { body } = await gw.call('GET', '/canary');
    const [canary] = body.canaries as Record<string, unknown>[];
    assert.equal(canary.phase, 'running');
    assert.equal(canary.share, 10);
    assert.equal((canary.last_verdict as { decided: boolean }).decided, false);
  } finally {
    await gw.stop();
  }
});
