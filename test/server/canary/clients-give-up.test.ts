/**
 * A canary that hangs one request in two (3 s) while its clients give up after 1 s: each of
 * those clients left before an answer came, and a client that leaves judges nobody, so the
 * canary's counts held its answered half alone, as fast as the baseline's: it passed every step
 * and was promoted, half of every user's requests hanging. A client that left (or whose own
 * deadline passed) while the attempt waited for the answer's head is now a latency sample of the
 * time it waited (the answer came no sooner): never a failure, and, the clients being alike on
 * both sides, no more on one side than the other while the two are alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { impatientLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from './canary-fixture.ts';

test('a canary that hangs half its requests past its clients’ patience is rolled back on latency, never promoted', async () => {
  const gw = await startCanaryGateway(
    'steps: [20, 40], step_interval: 3s, check_interval: 1s, min_requests: 40',
  );
  try {
    gw.next.slowEvery = 2;
    gw.next.slowMs = 3000;
    await gw.serve.waitForLines('canary step', 1);
    const ended = () =>
      gw.linesOf('canary worse').length > 0 ||
      gw.linesOf('canary action').some((l) => l.action === 'promote');
    // A second of patience: the hanging half waits 3 s, and a machine under a loaded suite still
    // answers the baseline well inside it (at 300 ms a starved run saw every client give up on
    // both sides alike, and the judge rightly found the two alike).
    const seen = await impatientLoad(gw.base, 150, 1000, ended, 4000);
    assert.ok(seen.gaveUp > 0, 'no client gave up');
    assert.ok(
      !gw.linesOf('canary action').some((l) => l.action === 'promote'),
      `promoted, ${seen.gaveUp} of ${seen.sent} clients having given up, ${seen.answered} answered`,
    );
    const [worse] = gw.linesOf('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${seen.sent} requests`);
    assert.ok(['latency', 'latency_p99'].includes(String(worse.metric)), `rolled back on ${worse.metric}`);
    // Never a failure of the canary's: its clients left, the canary did not fail them.
    const { body } = await gw.call('GET', '/canary');
    const [canary] = body.canaries as Record<string, unknown>[];
    assert.equal(canary.phase, 'rolled_back');
    const metrics = (canary.last_verdict as { metrics: { metric: string; canary: string }[] }).metrics;
    for (const m of metrics.filter((x) => !x.metric.startsWith('latency')))
      assert.match(m.canary, /^0\/\d+ /, `${m.metric}: ${m.canary}`);
  } finally {
    await gw.stop();
  }
});
