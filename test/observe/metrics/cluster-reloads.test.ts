/**
 * `candor_config_reloads_total` under `serve --workers 2` counts each reload once, whatever the
 * number of workers, and counts the refused ones: a file the primary refuses never reaches a
 * worker, and each worker counted its own swap, so one reload read 2 and a refused one 0. The
 * primary counts them: one worker told to count each lost its count at its death.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape, scrapeUntil } from './scrape.ts';

const keep = closeAfterAll();
const TOKEN = 'reload-count-token-0123456789abcdef';
let serve: ServeProcess | undefined;
after(async () => {
  await serve?.stop();
});

/** The reload counter's value for `result`, as the primary's /metrics merges it. */
async function reloads(port: number, result: string): Promise<number | undefined> {
  const scraped = await scrape(port);
  assert.equal(scraped.status, 200);
  return samples(scraped.text).find(
    (s) => s.name === 'candor_config_reloads_total' && s.labels.result === result,
  )?.value;
}

test('one reload counts once with two workers; a refused file counts as a failure', async () => {
  const echo = await keep(startEcho());
  const dir = tempDir('candor-reloads-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const [adminPort, metricsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: reload-count
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
metrics: { listen: "127.0.0.1:${metricsPort}" }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`,
  );
  serve = await startServe(config, 2, { admin: true });
  assert.equal(await reloads(metricsPort, 'success'), 0);

  appendFileSync(config, 'log: { level: warn }\n');
  const ok = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual((ok.body.workers as { confirmed: number[] }).confirmed, [1, 2]);
  assert.equal(await reloads(metricsPort, 'success'), 1, 'one reload of two workers is one');
  // The config's hash is the new file's, and the old one is gone (not left at 1 beside it).
  const info = samples((await scrape(metricsPort)).text).filter((s) => s.name === 'candor_config_info');
  assert.deepEqual(
    info.map((s) => [s.labels.hash, s.value]),
    [[ok.body.config_hash, 1]],
  );
  assert.equal(await reloads(metricsPort, 'failure'), 0);

  appendFileSync(config, 'no_such_field: 1\n');
  const refused = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
  assert.equal(refused.status, 400);
  assert.equal(await reloads(metricsPort, 'failure'), 1, 'the refused file is a failed reload');
  assert.equal(await reloads(metricsPort, 'success'), 1);

  // A reload no scrape has seen yet, then each worker killed (SIGKILL) and replaced in turn: the
  // primary counted it, so no worker's death takes it away (one worker counted it, and lost it).
  writeFileSync(config, readFileSync(config, 'utf8').replace('no_such_field: 1\n', ''));
  const again = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  const pid = serve.child.pid as number;
  const workers = () =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  // The reload's read of the file ran in a child of its own: gone before the workers are listed.
  await waitUntil('the two workers alone', () => workers().length === 2);
  for (const worker of workers()) {
    process.kill(worker, 'SIGKILL');
    await waitUntil('the worker replaced', () => workers().length === 2 && !workers().includes(worker));
  }
  const after = await scrapeUntil(metricsPort, (all) =>
    all.some((s) => s.name === 'candor_worker_exits_total'),
  );
  assert.equal(sampleValue(after, 'candor_worker_exits_total', { exit: 'SIGKILL' }), 2);
  assert.equal(sampleValue(after, 'candor_config_reloads_total', { result: 'success' }), 2);
  assert.equal(sampleValue(after, 'candor_config_reloads_total', { result: 'failure' }), 1);
});
