/**
 * The baseline's dependency is down: it answers two requests in three 503 at once, before any
 * work, while the canary (its new fallback) answers every request 200 in its usual 40 ms. Its
 * errors counted as latencies, the baseline's median was its instant 503s, and the canary,
 * failing nothing, was rolled back as "latency worse on the canary": blamed for the baseline's
 * outage. An answer of 500–599 is now a `status_5xx`, not a latency sample (a fast error is no
 * fast answer: the SRE book's four golden signals keep them apart), so the canary is no worse
 * and, the baseline failing past baseline_max_failed_percent, the step is inconclusive.
 * Real sockets, a library gateway; the test counts looks and requests, never time.
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

test('a canary that answers while the baseline fails fast is not rolled back on latency: the step is inconclusive', {
  timeout: 90_000,
}, async () => {
  stable.fastErrorEvery = 3;
  stable.delayMs = 40;
  next.delayMs = 40;
  const gw = await startGatewayFromText(`name: fast-errors
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [30], step_interval: 3s, check_interval: 1s, min_requests: 40', stable.url, next.url)}`);
  const canary = () => gw.gateway.canaries()[0];
  let loading = true;
  const load = paceLoad(gw.url, 150, () => !loading, 100_000);
  try {
    await waitUntil('a verdict', () => canary()?.phase !== 'running', 40_000);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'canary worse').map((l) => l.reason),
      [],
      'the canary blamed for the baseline’s outage',
    );
    assert.equal(canary().phase, 'paused', canary().reason ?? '');
    assert.equal(canary().failed_metric, null);
    assert.match(String(canary().reason), /^inconclusive: the baseline failed \d+\/\d+ \((5|6|7)\d\.\d\d%\)/);
    const metrics = canary().last_verdict?.metrics ?? [];
    const latency = metrics.find((m) => m.metric === 'latency');
    // The baseline's answers are its 200s alone: about one in three of its requests.
    const samples = Number(/\((\d+) samples\)/.exec(latency?.baseline ?? '')?.[1]);
    const fivexx = metrics.find((m) => m.metric === 'status_5xx');
    const [failed, requests] = (fivexx?.baseline ?? '').split(' ')[0].split('/').map(Number);
    assert.equal(samples, requests - failed, `${latency?.baseline} beside ${fivexx?.baseline}`);
  } finally {
    loading = false;
    await load;
    await gw.close();
  }
});
