/**
 * candor_canary_verdicts_total under `serve --workers N` after a worker's death. The verdicts are
 * the primary's controller's, and were counted by each worker it sent them to, the primary
 * reporting the largest count: a replacement worker counts from 0, so once the dead worker's
 * count was kept as departed the largest stayed that one, and the verdicts that came next were
 * not seen until the replacement's own count passed it (a `pass` after a restart read as none:
 * increase() 0 over a step that passed). Now the primary counts them itself, as it counts the
 * workers' exits. A real `candor serve --workers 2`, each worker killed with SIGKILL; counts, never time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { childPids } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { named, sampleValue, scrapeUntil } from '../../observe/metrics/scrape.ts';
import { startCanaryGateway } from './canary-fixture.ts';

const PASS = { route: 'api', verdict: 'pass', metric: '' };

test('a step passed after the worker was killed and replaced counts: candor_canary_verdicts_total{verdict="pass"} 2', async () => {
  const metricsPort = await freePort();
  const workers = 2;
  let replaced = 0;
  const gw = await startCanaryGateway(
    'steps: [10, 20, 30], step_interval: 1s, min_requests: 10',
    workers,
    `metrics: { listen: "127.0.0.1:${metricsPort}" }\n`,
  );
  try {
    const passes = () => gw.linesOf('canary step passed').length;
    await paceLoad(gw.base, 100, () => passes() >= 1, 3000);
    assert.equal(passes(), 1, JSON.stringify(gw.serve.lines.slice(-5)));
    const first = await scrapeUntil(
      metricsPort,
      (all) => sampleValue(all, 'candor_canary_verdicts_total', PASS) === 1,
    );
    assert.equal(sampleValue(first, 'candor_canary_verdicts_total', PASS), 1);

    // Each worker killed and replaced in turn (one always listening): both count from 0 now.
    const pid = gw.serve.child.pid as number;
    for (const worker of childPids(pid)) {
      process.kill(worker, 'SIGKILL');
      await gw.serve.waitForLines('listening', workers + ++replaced, 30_000);
    }
    assert.equal(childPids(pid).length, 2);
    await paceLoad(gw.base, 100, () => passes() >= 2, 3000);
    assert.equal(passes(), 2);
    const second = await scrapeUntil(
      metricsPort,
      (all) => sampleValue(all, 'candor_canary_verdicts_total', PASS) === 2,
    );
    assert.equal(
      sampleValue(second, 'candor_canary_verdicts_total', PASS),
      2,
      named(second, 'candor_canary_verdicts_total'),
    );
  } finally {
    await gw.stop();
  }
});
