/**
 * A canary whose target sends a head and then cuts the body counts each cut as a `reset` on the
 * canary's side (issue 36): the attempt is counted for the canary's window once it is over
 * (attempt-metrics.ts), by what it came to, not by the head that promised an answer. Before,
 * the head counted as an answer and the cut nowhere: a canary crashing mid-body passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { startCanaryGateway } from '../../server/canary/canary-fixture.ts';

test("a canary's body cut after its head counts as a reset for the canary, and rolls it back", async () => {
  // 60 a side: the fifteen cuts of the canary's 60 against none are sure at any look.
  const gw = await startCanaryGateway('steps: [50], step_interval: 1s, min_requests: 60');
  try {
    // One in four: never five in a row, so outlier detection keeps the target (no refusals).
    gw.next.cutBodyEvery = 4;
    await gw.serve.waitForLines('canary step', 1);
    const rolledBack = () => gw.linesOf('canary worse').length > 0;
    const load = await paceLoad(gw.base, 100, rolledBack, 3000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    const [worse] = gw.linesOf('canary worse');
    assert.equal(worse.metric, 'reset');
    const [, cuts, total] = /^(\d+)\/(\d+) /.exec(String(worse.canary_figure)) ?? [];
    assert.ok(Number(cuts) > 0 && Number(cuts) < Number(total), String(worse.canary_figure));
    assert.match(String(worse.baseline_figure), /^0\/\d+ \(0\.00%\)$/);
    // Each cut was a body cut after its head (the status could no longer change), not a reset before it.
    const cut = gw.serve.lines.filter(
      (l) => l.msg === 'request' && l.upstream === 'next' && l.error !== undefined,
    );
    assert.ok(cut.length > 0);
    for (const line of cut) {
      assert.equal(line.error, 'http_response_incomplete');
      assert.equal(line.status, 200);
    }
    // The clients saw it: their responses broke mid-body (paceLoad counts only whole ones).
    assert.ok((load.statuses[200] ?? 0) < load.sent, 'some responses were cut');
  } finally {
    await gw.stop();
  }
});
