/**
 * A canary whose answers' heads come at once and whose bodies then stall. An answer counts in
 * the canary's window when it is over (AttemptMetrics.answerOver), never at its head: a body
 * `timeouts.read` cuts is a `slow` failure of the canary's, whatever its head said. And a body
 * its client gave up on while the canary owed its next bytes counted as the answer its head
 * promised, at its head's latency: a canary that stalled half its bodies past every client's
 * patience (under `timeouts.read`, 30 s by default) passed as fast as its baseline and was
 * promoted. Such an answer is now a latency sample of the time its client waited (it was whole
 * no sooner), as a client leaving before the head is (clients-give-up.test.ts). Real sockets,
 * a real `candor serve`; the tests count, never time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { impatientLoad, paceLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from './canary-fixture.ts';

const ended = (gw: Awaited<ReturnType<typeof startCanaryGateway>>) => () =>
  gw.linesOf('canary worse').length > 0 || gw.linesOf('canary action').some((l) => l.action === 'promote');

test('a canary whose bodies stall until timeouts.read cuts them is rolled back on `slow`, not passed on its heads', async () => {
  // (Indented under `next`, the fixture's last upstream: its read bound, half a second.)
  const gw = await startCanaryGateway(
    'steps: [20, 40], step_interval: 2s, check_interval: 1s, min_requests: 30',
    1,
    '    timeouts: { read: 500ms }\n',
  );
  try {
    gw.next.stallBodyEvery = 3;
    const load = await paceLoad(gw.base, 150, ended(gw), 6000);
    const [worse] = gw.linesOf('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${load.sent} requests`);
    assert.equal(worse.metric, 'slow');
    assert.equal(gw.linesOf('canary action').filter((l) => l.action === 'promote').length, 0);
  } finally {
    await gw.stop();
  }
});

test('a canary whose bodies stall past its clients’ patience is rolled back on latency, never promoted', async () => {
  const gw = await startCanaryGateway(
    'steps: [20, 40], step_interval: 2s, check_interval: 1s, min_requests: 30',
  );
  try {
    gw.next.stallBodyEvery = 2;
    const seen = await impatientLoad(gw.base, 150, 1000, ended(gw), 4000);
    assert.ok(seen.gaveUp > 0, 'no client gave up');
    assert.ok(
      !gw.linesOf('canary action').some((l) => l.action === 'promote'),
      `promoted, ${seen.gaveUp} of ${seen.sent} clients having given up on a stalled body`,
    );
    const [worse] = gw.linesOf('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${seen.sent} requests`);
    assert.ok(['latency', 'latency_p99'].includes(String(worse.metric)), `rolled back on ${worse.metric}`);
    // No failure of the canary's: its clients left, the canary cut nothing.
    const { body } = await gw.call('GET', '/canary');
    const [canary] = body.canaries as Record<string, unknown>[];
    const metrics = (canary.last_verdict as { metrics: { metric: string; canary: string }[] }).metrics;
    for (const m of metrics.filter((x) => !x.metric.startsWith('latency')))
      assert.match(m.canary, /^0\/\d+ /, `${m.metric}: ${m.canary}`);
  } finally {
    await gw.stop();
  }
});

test('a canary whose bodies stall until timeouts.read cuts them is rolled back when judged on latency alone, never promoted', async () => {
  // Judged as Kayenta judges (`compare: [latency, latency_p99]`): the cut body was a `slow` alone,
  // at its head's latency, so half the canary's bodies cut passed as fast as the baseline's.
  const gw = await startCanaryGateway(
    'steps: [20, 40], step_interval: 3s, check_interval: 1s, min_requests: 30, compare: [latency, latency_p99]',
    1,
    '    timeouts: { read: 500ms }\n',
  );
  try {
    gw.next.stallBodyEvery = 2;
    const load = await paceLoad(gw.base, 150, ended(gw), 6000);
    assert.ok(
      !gw.linesOf('canary action').some((l) => l.action === 'promote'),
      `promoted, half the canary's bodies cut by timeouts.read, after ${load.sent} requests`,
    );
    const [worse] = gw.linesOf('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${load.sent} requests`);
    assert.ok(['latency', 'latency_p99'].includes(String(worse.metric)), `rolled back on ${worse.metric}`);
  } finally {
    await gw.stop();
  }
});
