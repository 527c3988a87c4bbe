/**
 * A step judged inconclusive (it passed while the baseline failed more than
 * `baseline_max_failed_percent`) pauses the canary: the log, GET /canary and the timeline said
 * so, but candor_canary_verdicts_total had no `inconclusive`, and a dashboard on it saw nothing.
 * Now the pause carries its verdict to the workers as a rollback's and a pass's do, and with two
 * workers the primary reports it once (it counts the verdicts its controller sends), not once a
 * worker. A real `candor serve --workers 2`; counts, never time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { freePort } from '../../helpers/wait.ts';
import { startCanaryGateway } from './canary-fixture.ts';

test('a step inconclusive beside a failing baseline is one `inconclusive` in candor_canary_verdicts_total, across two workers', async () => {
  const metricsPort = await freePort();
  const gw = await startCanaryGateway(
    'steps: [30], step_interval: 1s, min_requests: 30',
    2,
    `metrics: { listen: "127.0.0.1:${metricsPort}" }\n`,
  );
  try {
    gw.stable.resetEvery = 4; // a quarter of the baseline's requests reset: past 10 %
    const paused = () => gw.linesOf('canary inconclusive').length > 0;
    const load = await paceLoad(gw.base, 150, paused, 6000);
    assert.ok(paused(), `not inconclusive after ${load.sent} requests`);
    const { body } = await gw.call('GET', '/canary');
    const [canary] = body.canaries as Record<string, unknown>[];
    assert.equal(canary.phase, 'paused');
    assert.match(String(canary.reason), /^inconclusive: /);
    // Both workers took the verdict: the primary's scrape shows it once.
    let metrics = '';
    for (let i = 0; i < 50; i++) {
      metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      if (metrics.includes('verdict="inconclusive"')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(metrics, /candor_canary_verdicts_total\{route="api",verdict="inconclusive",metric=""\} 1\n/);
    assert.doesNotMatch(metrics, /candor_canary_verdicts_total\{route="api",verdict="(pass|worse)"/);
  } finally {
    gw.stable.resetEvery = 0;
    await gw.stop();
  }
});
