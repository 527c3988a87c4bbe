/**
 * cache.dir on a file system whose clock is not the gateway's (a share, NFS, a host's folder in a
 * VM): the files' times are the file system's, so the ages read off them are counted on its clock
 * too, never against the process's Date.now(). Here the process's clock runs two minutes ahead of
 * the file system's (Date.now() moved on for the test; the kernel still stamps the files): a
 * fetch's lock made a moment ago is a live fetch's, not one left past lock_timeout, and a
 * temporary file of a write under way is no dead worker's. Two gateways on one directory stand
 * in for two workers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { cachedPages, storedIn } from '../../helpers/cached-pages.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const AHEAD_MS = 120_000;
const host = { host: 'pages.test' };

/** The process's clock AHEAD_MS past the file system's until the test ends. */
function processClockAhead(t: TestContext): void {
  const now = Date.now;
  Date.now = () => now() + AHEAD_MS;
  t.after(() => {
    Date.now = now;
  });
}

test("a miss in one worker while another fetches the key waits for that fetch: its lock is young on the file system's clock", async (t) => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'once',
  });
  t.after(() => origin.stop());
  const config = cachedPages(origin.url, `{ dir: ${dir}, lock_timeout: 5s }`);
  const one = await startTestGateway(config);
  t.after(() => one.close());
  const two = await startTestGateway(config);
  t.after(() => two.close());
  processClockAhead(t);
  let letGo = () => {};
  origin.held = new Promise<void>((resolve) => {
    letGo = resolve;
  });
  const first = request(one.url, { path: '/pages/a', headers: host, timeoutMs: 20_000 });
  await waitUntil('the first fetch reaches the upstream', () => origin.heads.length === 1);
  const second = request(two.url, { path: '/pages/a', headers: host, timeoutMs: 20_000 });
  // A lock judged older than lock_timeout is taken over, and its taker fetches: give it the while.
  await waitUntil('a second fetch', () => origin.heads.length === 2, 1000).catch(() => {});
  letGo();
  origin.held = undefined;
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.text, 'once');
  assert.equal(b.text, 'once');
  assert.equal(origin.heads.length, 1, 'one fetch for both workers');
  assert.match(
    String(b.headers['cache-status']),
    /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/,
    'it waited for the fetch',
  );
});

test("a write's temporary file is no dead worker's on the file system's clock: the scan leaves it, and removes one an hour old", async (t) => {
  const dir = tempDir('candor-cache-');
  mkdirSync(join(dir, 'pages'), { mode: 0o700 });
  const orphan = join(dir, 'pages', `${'a'.repeat(64)}.4242.0.tmp`);
  const writing = join(dir, 'pages', `${'b'.repeat(64)}.4243.0.tmp`);
  writeFileSync(orphan, 'x'.repeat(100_000));
  writeFileSync(writing, 'x'.repeat(100));
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(orphan, hourAgo, hourAgo);
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'page',
  });
  t.after(() => origin.stop());
  // A write over a tenth of max_disk starts a scan.
  const gw = await startTestGateway(cachedPages(origin.url, `{ dir: ${dir}, max_disk: 2KiB }`));
  t.after(() => gw.close());
  processClockAhead(t);
  await request(gw.url, { path: '/pages/a', headers: host });
  await waitUntil("the dead worker's temporary file removed", () => !existsSync(orphan));
  assert.ok(existsSync(writing), 'a temporary file of a write under way is left to its rename');
  assert.equal(storedIn(dir).length, 1);
});
