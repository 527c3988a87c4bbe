/**
 * `candor explain` on a storm a canary made and the gateway ended itself (issue 56 item 12): a
 * library gateway's canary that resets every request is rolled back by its own verdict within
 * seconds. The storm is placed after the canary's step, as it should be, but "undo it" is no
 * advice for a change already undone: the report says it was rolled back, when, and why.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from '../../server/canary/canary-fixture.ts';
import { explain } from './explain-fixture.ts';

test('a storm after a canary step the gateway rolled back itself is not told to undo it: the rollback is named, with when', async () => {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  next.resetEvery = 1; // every request to the canary is reset: a storm of 502s
  let lines: Record<string, unknown>[] = [];
  try {
    const gw = await startGatewayFromText(`name: edge-1
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [50], step_interval: 2s, min_requests: 30', stable.url, next.url)}`);
    try {
      const rolledBack = () => gw.logs.some((l) => l.msg === 'canary action' && l.action === 'rollback');
      await paceLoad(gw.url, 200, rolledBack, 8000);
      assert.ok(rolledBack(), 'the canary was rolled back');
      // Quiet seconds after it: the storm stands out against its upstream's usual 0.
      await paceLoad(gw.url, 200, () => false, 600);
    } finally {
      await gw.close();
    }
    lines = gw.logs.filter((l) => l.msg === 'request' || l.msg === 'event');
  } finally {
    await stable.close();
    await next.close();
  }
  const file = join(tempDir('candor-explain-canary-'), 'candor.log');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  const report = await explain([file], { bucketMs: 1000 });
  const storm = report.storms.find((s) => s.upstream === 'next');
  assert.ok(
    storm,
    JSON.stringify({ storms: report.storms, upstreams: report.upstreams, b: report.bucketSeconds }),
  );
  assert.match(String(storm.afterChange?.label), /^canary next (moved to 50%|started at 0%) \(route api\)/);
  assert.match(
    String(storm.undoneBy?.label),
    /^canary next rolled back to 0% \(route api\): \w+ worse on the canary/,
  );
  assert.ok(Number(storm.undoneBy?.seconds) > 0 && Number(storm.undoneBy?.seconds) < 30);
  const text = renderText(report);
  assert.doesNotMatch(text, /undo it/);
  assert.match(
    text,
    /storm began .* after canary next .* \(route api\): suspect this change first; it was rolled back [\d.]+ m?s after it \(canary next rolled back to 0% \(route api\): \w+ worse on the canary.*\), so there is nothing left to undo: if the storm ended then, it was the change\n/,
  );
});
