/**
 * One cache for every worker: `candor serve --workers 2` with a route's cache and no `cache.dir`.
 * A page stored by one worker is found by the other, and once the upstream is down its stale copy
 * stands in whichever worker takes the request: 10 users on 10 connections (spread over both
 * workers by the primary) all get the page, each saying it is stale and why. Before, each worker
 * kept its own, and the users the other worker took got a 502. The folder the workers shared is
 * gone once the gateway stops, and one a primary killed with SIGKILL left is removed by the next
 * gateway's start (never a live gateway's).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startMoodyOrigin } from '../helpers/moody-origin.ts';
import { ended } from '../helpers/process-state.ts';
import { childPids, startServe, workersCacheDir } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

/** A config file (in a folder of its own) of one route `pages` to `origin` with this `cache`. */
function pagesConfig(origin: string, cache: string): string {
  const path = join(tempDir('candor-workers-cache-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: pages
    upstream: app
    cache: ${cache}
upstreams:
  app:
    targets:
      - url: ${origin}
`,
  );
  return path;
}

test('with two workers and no cache.dir, a stale page stands in for a down upstream for 10 users of 10, whichever worker takes them', async (t) => {
  const origin = await startMoodyOrigin({ status: 200, fields: ['X-Page', 'home'], body: 'home page' });
  t.after(() => origin.stop());
  const path = pagesConfig(origin.url, '{ lifetimes: { 200: 1s } }');
  const serve = await startServe(path, 2);
  const url = `http://127.0.0.1:${serve.port}`;
  try {
    const first = await request(url, { path: '/', headers: { 'x-request-id': 'fill' } });
    assert.equal(first.text, 'home page');
    // Past its 1 s lifetime, within the route's stale_if_error (5 minutes by default); the upstream gone.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await origin.stop();
    const answers = [];
    for (let i = 0; i < 10; i++)
      answers.push(
        await request(url, { path: '/', headers: { 'x-request-id': `user-${i}`, connection: 'close' } }),
      );
    for (const res of answers) {
      assert.equal(res.status, 200);
      assert.equal(res.text, 'home page');
      assert.equal(res.headers['x-page'], 'home');
      assert.match(
        String(res.headers['cache-status']),
        /^edge-1; hit; fwd=stale; fwd-status=502; ttl=-\d+; detail="connection_refused"$/,
      );
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=connection_refused; details="connection refused \(ECONNREFUSED\) after [\d.]+ ms"; next-hop="app"$/,
      );
      assert.match(String(res.headers.age), /^\d+$/);
    }
    await serve.waitForLines('request', 11);
    const users = serve.lines.filter((l) => String(l.client_req_id).startsWith('user-'));
    assert.deepEqual(
      users.map((l) => [l.status, l.cache, l.stale_cause]),
      Array.from({ length: 10 }, () => [200, 'stale', 'connection_refused']),
    );
    // The folder the workers share, as each was told it: gone with the gateway. (The primary
    // accepts a port-0 listener's connections and hands them to its workers in turn: the 10
    // above went to both.)
    const dir = workersCacheDir(serve);
    assert.ok(dir !== undefined && existsSync(dir), `the workers' folder: ${dir}`);
    await serve.stop();
    assert.equal(existsSync(dir), false, 'removed when the gateway stopped');
  } finally {
    await serve.stop();
  }
});

test("the folder of a primary killed with SIGKILL is removed by the next gateway's start; a live gateway's is left", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const path = pagesConfig(origin.url, '{}');
  const live = await startServe(path, 2);
  t.after(() => live.stop());
  const killed = await startServe(path, 2);
  t.after(() => killed.stop());
  assert.equal((await request(`http://127.0.0.1:${killed.port}`, { path: '/' })).text, 'page');
  const killedDir = workersCacheDir(killed);
  const liveDir = workersCacheDir(live);
  await waitUntil('the answer stored in the folder', () => readdirSync(join(killedDir, 'pages')).length > 0);
  const workers = childPids(killed.child.pid);
  const exited = new Promise((resolve) => killed.child.once('exit', resolve));
  killed.child.kill('SIGKILL');
  await exited;
  await waitUntil("the killed primary's workers exit", () => workers.every((pid) => ended(pid)), 15_000);
  // Left behind: its primary never ran its removal. Unless a gateway another test file started
  // meanwhile swept /dev/shm first, as every primary's start does (a run of many files at once
  // did): then it is already gone, as it must be after the next start anyway.
  if (!existsSync(join(killedDir, 'pages')))
    t.diagnostic('the killed gateway’s folder was swept by another test’s gateway before ours started');

  const next = await startServe(path, 2);
  t.after(() => next.stop());
  assert.equal(existsSync(killedDir), false, 'removed by the start of the next gateway');
  assert.ok(existsSync(liveDir), "the live gateway's folder is left");
  assert.ok(existsSync(workersCacheDir(next)));
  assert.equal((await request(`http://127.0.0.1:${live.port}`, { path: '/' })).text, 'page');
  // Said once, at info, by the primary that removed it: the next one here, unless a gateway
  // another test file started in the meantime swept /dev/shm first (every primary does).
  const said = next.lines.filter(
    (l) => l.msg === "removed the workers' shared cache folder of a gateway no longer running",
  );
  for (const line of said) assert.ok(!existsSync(String(line.dir)), String(line.dir));
  const ours = said.filter((l) => l.dir === killedDir);
  assert.ok(ours.length <= 1, JSON.stringify(ours));
  for (const line of ours) assert.deepEqual([line.level, line.pid], ['info', killed.child.pid]);
  assert.equal(
    said.some((l) => l.dir === liveDir || l.dir === workersCacheDir(next)),
    false,
    'never a live folder',
  );
});
