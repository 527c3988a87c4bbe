/**
 * One ejection's return counts once in the whole gateway: under `candor serve --workers 2`
 * an ejection is counted by the worker that made it and told to the other, and each worker
 * then ends it on its own; the primary lets only the first return of each ejection be counted,
 * so `candor_target_returns_total` matches `candor_target_ejections_total` (1 and 1, not 1 and 2).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSwitchable } from '../../src/kits/fault-kit/switchable.ts';
import { request } from '../helpers/http-client.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';
import { named, type Sample, sampleValue, scrapeUntil } from '../observe/metrics/scrape.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('one ejection and its return count 1 each across two workers', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const metricsPort = await freePort();
  const dir = tempDir('candor-eject-returns-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: eject-returns
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 500ms }
`,
  );
  const serve = await startServe(config, 2);
  const target = new URL(upstream.url).origin;
  const labels = { upstream: 'app', target };
  const ejected = (all: Sample[]) => sampleValue(all, 'candor_target_ejected', labels);
  try {
    const base = `http://127.0.0.1:${serve.port}`;
    assert.equal((await request(base, { path: '/fail' })).status, 502);
    // The worker that met the reset ejected the target and told the other: both see it out.
    let all = await scrapeUntil(metricsPort, (a) => ejected(a) === 1);
    assert.equal(ejected(all), 1, named(all, 'candor_target_ejected'));
    assert.equal(sampleValue(all, 'candor_target_ejections_total', labels), 1);

    upstream.setMode('ok');
    await sleep(600);
    // Fresh connections go to the workers in turn: each ends the ejection on its own.
    for (let i = 0; i < 6; i++) assert.equal((await request(base, { path: `/ok${i}` })).status, 200);
    all = await scrapeUntil(metricsPort, (a) => ejected(a) === 0);
    assert.equal(ejected(all), 0, 'both workers have the target back');
    assert.equal(
      serve.lines.filter((l) => l.msg === 'target back in rotation').length,
      2,
      'each worker ended it',
    );
    // The primary's count comes back to the worker that returned it first: a moment.
    all = await scrapeUntil(
      metricsPort,
      (a) => sampleValue(a, 'candor_target_returns_total', { ...labels, by: 'request' }) !== undefined,
    );
    await sleep(200);
    all = await scrapeUntil(metricsPort, () => true);
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { ...labels, by: 'request' }),
      1,
      named(all, 'candor_target_returns_total'),
    );
    assert.equal(sampleValue(all, 'candor_target_ejections_total', labels), 1);
  } finally {
    await serve.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
