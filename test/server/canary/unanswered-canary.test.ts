/**
 * A canary judged on latency alone (`compare: [latency]`) whose upstream answers nothing (its
 * port closed: every connect refused): the rank test has no answer of the canary's to rank, so
 * it found nothing worse, and the step passed; the canary was promoted to every request, the
 * whole route down. A step passes on latency only once the canary answered `min_requests`; short
 * of them, it runs on, and `max_duration` fails it with a reason that says how few it answered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from './canary-fixture.ts';

test('a canary that answers nothing, judged on latency alone, is never passed or promoted: max_duration rolls it back, saying it answered none', async () => {
  const gw = await startCanaryGateway(
    // min_requests 5: a loaded machine's pace sent the canary 12 requests within max_duration,
    // and too few requests, not too few answers, was the reason (at 20).
    'steps: [10, 30], step_interval: 2s, check_interval: 1s, min_requests: 5, max_duration: 4s, compare: [latency]',
  );
  try {
    await gw.next.close();
    await gw.serve.waitForLines('canary step', 1);
    const ended = () => gw.linesOf('canary worse').length > 0 || gw.linesOf('canary step passed').length > 0;
    const load = await paceLoad(gw.base, 150, ended, 3000);
    assert.deepEqual(gw.linesOf('canary step passed'), [], `a step passed after ${load.sent} requests`);
    assert.ok(
      !gw.linesOf('canary action').some((l) => l.action === 'promote'),
      'a canary that answered nothing was promoted',
    );
    const [worse] = gw.linesOf('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${load.sent} requests`);
    assert.equal(worse.metric, 'max_duration');
    assert.equal(worse.action, 'rollback');
    assert.match(
      String(worse.reason),
      /^too few answers to judge latency within max_duration: the canary answered 0 of its \d+ requests, 5 needed$/,
    );
    // The verdict's line is written as the rollback begins: its state follows (a loaded machine shows the gap).
    let canary: Record<string, unknown> = {};
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const { body } = await gw.call('GET', '/canary');
      [canary] = body.canaries as Record<string, unknown>[];
      if (canary.phase !== 'running') break;
    }
    assert.equal(canary.phase, 'rolled_back');
    assert.equal(canary.share, 0);
    assert.equal(canary.reason, worse.reason);
    // Its last look says why it was not judged: the answers it did not give.
    const last = canary.last_verdict as { decided: boolean; answers?: number };
    assert.deepEqual([last.decided, last.answers], [false, 0]);
    // A look that said "too few requests" was short of them; one short of answers says so.
    for (const line of gw.linesOf('canary step not judged: too few requests')) {
      const { canary: c, baseline: b } = line.requests as { canary: number; baseline: number };
      assert.ok(c < 20 || b < 20, `"too few requests" with ${c} and ${b}`);
    }
    for (const line of gw.linesOf('canary step not judged: too few answers')) assert.equal(line.answers, 0);
  } finally {
    await gw.stop();
  }
});
