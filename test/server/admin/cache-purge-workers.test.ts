/**
 * DELETE /cache on a real `candor serve --workers 2` counts each stored answer once, however many
 * workers held it: each worker keeps its own copy in memory, and the primary added the workers'
 * counts, so a page both had was "removed: 2".
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type MoodyOrigin, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const TOKEN = 'cache-purge-token-abcdefghijkl';
let origin: MoodyOrigin;
let serve: ServeProcess;
let adminPort: number;
let base: string;

before(async () => {
  const dir = tempDir('candor-purge-workers-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  origin = await startMoodyOrigin({ status: 200, fields: ['Cache-Control', 'max-age=600'], body: 'page' });
  adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: purge-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    # Each worker its own copy: what this test is about.
    cache: { workers_share: false }
upstreams:
  app:
    targets:
      - url: ${origin.url}
`,
  );
  serve = await startServe(path, 2, { admin: true });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, origin));

const purge = (query: string) => adminCall(adminPort, 'DELETE', `/cache${query}`, { token: TOKEN });

/**
 * Asks for `path` on new connections until both workers hold it: each worker's first request is
 * its own miss (no shared directory), so two misses are two copies. Bounded; never timed.
 */
async function heldByBoth(path: string): Promise<void> {
  let misses = 0;
  for (let tries = 0; misses < 2; tries++) {
    assert.ok(tries < 100, `${path} reached one worker only`);
    const status = String((await request(base, { path })).headers['cache-status']);
    if (status === 'purge-edge; fwd=uri-miss') misses++;
  }
}

test('a page both workers hold is purged as one; two pages both hold, as two', async () => {
  await heldByBoth('/pages/a');
  const one = await purge(`?route=pages&key=${encodeURIComponent('/pages/a')}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body.confirmed, [1, 2]);
  assert.equal(one.body.removed, 1);
  assert.equal(one.body.removed_at_most, undefined);
  await heldByBoth('/pages/a');
  await heldByBoth('/pages/b');
  const all = await purge('');
  assert.equal(all.status, 200);
  assert.equal(all.body.removed, 2);
  // The primary logs a purge once it has answered: its line may follow the answer.
  const purges = () => serve.lines.filter((l) => l.msg === 'admin purge');
  await waitUntil('both purges logged', () => purges().length === 2);
  const lines = purges();
  assert.deepEqual(
    lines.map((l) => l.removed),
    [1, 2],
  );
});

// A prefix purge of a large cache.dir takes seconds in each worker: it was a 503 "Purge
// incomplete" past the primary's 5 s, though in effect at once and finished later. `wait=0`
// answers as soon as each worker took it: deterministic, the answer before any count.
test('a purge every worker took but has not counted: 202 in effect, under way, each count logged when it comes', async () => {
  await heldByBoth('/pages/c');
  const answer = await purge(`?route=pages&key=${encodeURIComponent('/pages/c')}&wait=0`);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  assert.equal(answer.body.in_effect, true);
  assert.deepEqual(answer.body.under_way, [1, 2]);
  assert.deepEqual(answer.body.confirmed, []);
  assert.deepEqual(answer.body.failed, []);
  assert.equal(answer.body.removed_so_far, 0);
  assert.equal(answer.body.removed, undefined, 'no count is said to be the whole one');
  // In effect: the next request, whichever worker takes it, is not answered from what it held.
  assert.equal(
    String((await request(base, { path: '/pages/c' })).headers['cache-status']),
    'purge-edge; fwd=uri-miss',
  );
  const finished = () => serve.lines.filter((l) => l.msg === 'admin purge finished');
  await waitUntil('each worker’s count logged', () => finished().length === 2);
  assert.deepEqual(
    finished()
      .map((l) => l.removed)
      .sort(),
    [1, 1],
  );
});

test('a wait that is no duration, or past 10 minutes, is a 400 naming wait', async () => {
  for (const wait of ['soon', '11m', '-1s']) {
    const answer = await purge(`?wait=${wait}`);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.field, 'wait');
  }
});
