/**
 * `serve --workers 2`: the primary serves /metrics, every worker's counts merged by
 * prom-client's AggregatorRegistry; a request counted by either worker is in the one scrape.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';
import { type Sample, sampleValue, scrapeUntil } from './scrape.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

const sum = (all: readonly Sample[], name: string) =>
  all.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);

test('with --workers 2, one scrape of the primary counts the requests of both workers', async () => {
  const echo = await startEcho();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const dir = tempDir('candor-metrics-');
  const config = join(dir, 'cluster.yaml');
  writeFileSync(
    config,
    `name: edge-c
listen:
  - address: 127.0.0.1:${port}
metrics:
  listen: 127.0.0.1:${metricsPort}
log: { level: warn }
routes:
  - name: api
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
  );
  const child: ChildProcess = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--config', config, '--workers', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  try {
    // Both workers answer the primary once each has its gateway: a sum-aggregated gauge shows
    // it. The retry budget (3 concurrent + 10 a second) is split between the two workers
    // (2 + 5 and 1 + 5), so only both workers' gauges, merged, add up to the gateway's 13.
    const ready = await scrapeUntil(
      metricsPort,
      (all) => sampleValue(all, 'candor_retry_budget_remaining', { upstream: 'app' }) === 13,
    );
    assert.equal(
      sampleValue(ready, 'candor_retry_budget_remaining', { upstream: 'app' }),
      13,
      `two workers' registries merged; stderr: ${stderr}`,
    );
    // A fresh connection per request: the cluster hands connections to the workers in turn.
    const sent = 20;
    for (let i = 0; i < sent; i++)
      assert.equal((await request(`http://127.0.0.1:${port}`, { path: `/r${i}` })).status, 200);
    const all = await scrapeUntil(metricsPort, (s) => sum(s, 'candor_responses_total') >= sent);
    assert.equal(
      sampleValue(all, 'candor_responses_total', {
        route: 'api',
        code: '200',
        origin: 'upstream',
        error_type: '',
      }),
      sent,
    );
    assert.equal(sum(all, 'candor_responses_total'), sent);
    assert.equal(sum(all, 'http_server_request_duration_seconds_count'), sent);
    // A state each worker judges is averaged, not added: still 1 with two workers.
    assert.equal(
      sampleValue(all, 'candor_target_healthy', { upstream: 'app', target: new URL(echo.url).origin }),
      1,
    );
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, `stderr: ${stderr}`);
  } finally {
    child.kill('SIGKILL');
    await echo.close();
  }
});
