/**
 * A canary judged against a baseline that fails (one request in four reset) is no worse than it
 * and passed, and was promoted: the verdict is relative. A step that passes while the baseline
 * failed more than `baseline_max_failed_percent` is inconclusive now: the canary pauses at its
 * share, the reason says why, and a `start` once the baseline is mended goes on from the step.
 * Real sockets, a library gateway; the tests count looks and requests, never time.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(stable, next));

test('a healthy canary beside a failing baseline is paused as inconclusive, not promoted; started again once the baseline is mended, it is promoted', {
  timeout: 90_000,
}, async () => {
  stable.resetEvery = 4;
  const gw = await startGatewayFromText(`name: baseline-down
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [30], step_interval: 3s, check_interval: 1s, min_requests: 50', stable.url, next.url)}`);
  const canary = () => gw.gateway.canaries()[0];
  let loading = true;
  const load = paceLoad(gw.url, 150, () => !loading, 100_000);
  try {
    await waitUntil(
      'the step’s end',
      () => canary()?.phase === 'paused' || canary()?.phase === 'promoted',
      40_000,
    );
    assert.equal(canary().phase, 'paused', canary().reason ?? '');
    assert.equal(canary().share, 30);
    assert.equal(canary().failed_metric, null);
    assert.match(
      String(canary().reason),
      /^inconclusive: the baseline failed \d+\/\d+ \((2\d|3\d)\.\d\d%\) of its requests, more than baseline_max_failed_percent \(10%\)/,
    );
    const [line] = gw.logs.filter((l) => l.msg === 'canary inconclusive');
    assert.equal(line.action, 'pause');
    assert.equal(line.step, 1);
    // Nothing showed the canary worse: no rollback, no worse line.
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'canary worse'),
      [],
    );
    stable.resetEvery = 0;
    const started = await gw.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running', JSON.stringify(started));
    await waitUntil('the step after the start', () => canary().phase !== 'running', 40_000);
    assert.equal(canary().phase, 'promoted', canary().reason ?? '');
  } finally {
    loading = false;
    await load;
    stable.resetEvery = 0;
    await gw.close();
  }
});
