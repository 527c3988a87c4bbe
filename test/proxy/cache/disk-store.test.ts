/**
 * cache.dir: the workers share their stored answers through a directory (two gateways on one
 * directory stand in for two workers here), kept under max_disk, purged with the memory.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const config = (url: string, dir: string, maxDisk = '1MiB') => `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { dir: ${dir}, max_disk: ${maxDisk} }
upstreams:
  app:
    targets:
      - url: ${url}
`;

/** The route's files: in a subdirectory of `dir` named for it. */
const filesIn = (dir: string) =>
  readdirSync(join(dir, 'pages')).filter((name) => /^[0-9a-f]{64}$/.test(name));

test('an answer one worker stored is a hit in another (from the shared directory), and a purge empties it', async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'shared',
  });
  const one = await startTestGateway(config(origin.url, dir));
  const two = await startTestGateway(config(origin.url, dir));
  try {
    const host = { host: 'pages.test' };
    assert.equal(
      (await request(one.url, { path: '/pages/s', headers: host })).headers['cache-status'],
      'edge-1; fwd=uri-miss',
    );
    await waitUntil('the answer written to the directory', () => filesIn(dir).length === 1);
    const hit = await request(two.url, { path: '/pages/s', headers: host });
    assert.equal(hit.text, 'shared');
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 1, 'the second gateway did not reach the upstream');

    assert.equal(await one.gateway.purge({}), 1);
    assert.equal(filesIn(dir).length, 0);
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});

test('a purge counts what it removed from the directory too: after a restart, with nothing in memory, it is not "0 removed"', async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'kept',
  });
  const before = await startTestGateway(config(origin.url, dir));
  try {
    await request(before.url, { path: '/pages/a' });
    await request(before.url, { path: '/pages/b' });
    await waitUntil('both answers written to the directory', () => filesIn(dir).length === 2);
  } finally {
    await before.close();
  }
  const after = await startTestGateway(config(origin.url, dir));
  try {
    assert.equal(await after.gateway.purge({ route: 'pages' }), 2);
    assert.equal(filesIn(dir).length, 0);
    const asked = origin.heads.length;
    const res = await request(after.url, { path: '/pages/a' });
    assert.equal(res.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(origin.heads.length, asked + 1, 'the purged answer is gone: the upstream is asked');
  } finally {
    await after.close();
    await origin.stop();
  }
});

test('the directory stays under max_disk: the oldest files go', async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'x'.repeat(1000),
  });
  const gw = await startTestGateway(config(origin.url, dir, '4KiB'));
  try {
    for (let i = 0; i < 12; i++) await request(gw.url, { path: `/pages/${i}` });
    const total = () => filesIn(dir).reduce((sum, name) => sum + statSync(join(dir, 'pages', name)).size, 0);
    await waitUntil('the directory under 4 KiB', () => filesIn(dir).length > 0 && total() <= 4096);
    assert.ok(filesIn(dir).length < 12);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test("a file keeps no client's credentials and is the gateway's alone: only the fields Vary names, owner-only", async () => {
  const dir = join(tempDir('candor-cache-'), 'shared');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'public, max-age=60', 'Vary', 'Accept-Language'],
    body: 'varied',
  });
  const one = await startTestGateway(config(origin.url, dir));
  const two = await startTestGateway(config(origin.url, dir));
  try {
    const headers = {
      host: 'pages.test',
      'accept-language': 'fr',
      cookie: 'session=alice-secret',
      authorization: 'Bearer alice-token',
    };
    await request(one.url, { path: '/pages/v', headers });
    await waitUntil('the answer written to the directory', () => filesIn(dir).length === 1);
    const [name] = filesIn(dir);
    const text = readFileSync(join(dir, 'pages', name), 'utf8');
    assert.doesNotMatch(text, /alice/);
    assert.match(text, /"accept-language":"fr"/);
    assert.equal(statSync(join(dir, 'pages', name)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'pages')).mode & 0o777, 0o700);
    // The variant still matches in the other worker.
    const hit = await request(two.url, {
      path: '/pages/v',
      headers: { host: 'pages.test', 'accept-language': 'fr' },
    });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 1);
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});

for (const [what, spoil] of [
  ['cut short', (bytes: Buffer) => bytes.subarray(0, bytes.length - 10)],
  ['changed in its body', (bytes: Buffer) => Buffer.concat([bytes.subarray(0, -5), Buffer.from('XXXXX')])],
] as const) {
  test(`a file ${what} is a miss in the other worker, never served as the answer: the upstream is asked`, async () => {
    const dir = tempDir('candor-cache-');
    const origin = await startMoodyOrigin({
      status: 200,
      fields: ['Cache-Control', 'max-age=60'],
      body: 'the whole page, as the upstream sent it',
    });
    const one = await startTestGateway(config(origin.url, dir));
    const two = await startTestGateway(config(origin.url, dir));
    try {
      const host = { host: 'pages.test' };
      await request(one.url, { path: '/pages/spoilt', headers: host });
      await waitUntil('the answer written to the directory', () => filesIn(dir).length === 1);
      const file = join(dir, 'pages', filesIn(dir)[0]);
      writeFileSync(file, spoil(readFileSync(file)));
      const again = await request(two.url, { path: '/pages/spoilt', headers: host });
      assert.equal(again.headers['cache-status'], 'edge-1; fwd=uri-miss');
      assert.equal(again.text, 'the whole page, as the upstream sent it');
      assert.equal(origin.heads.length, 2);
    } finally {
      await one.close();
      await two.close();
      await origin.stop();
    }
  });
}

/** Every stored answer's file under the directory, whatever subdirectory it is in. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => /(^|\/)[0-9a-f]{64}$/.test(path))
    .map((path) => join(dir, path));

/** Two routes that name one directory (as a user writes `dir: /var/cache/candor` on each). */
const twoRoutes = (url: string, dir: string) => `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { dir: ${dir}, max_disk: 4KiB }
  - name: docs
    match: { path: /docs }
    upstream: app
    cache: { dir: ${dir}, max_disk: 1MiB }
upstreams:
  app:
    targets:
      - url: ${url}
`;

test("two routes on one cache.dir: a purge of one route and its max_disk leave the other route's files alone", async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'x'.repeat(1000),
  });
  const one = await startTestGateway(twoRoutes(origin.url, dir));
  const two = await startTestGateway(twoRoutes(origin.url, dir));
  try {
    const host = { host: 'pages.test' };
    await request(one.url, { path: '/docs/kept', headers: host });
    await request(one.url, { path: '/pages/gone', headers: host });
    await waitUntil('both answers written', () => filesUnder(dir).length === 2);
    assert.equal(await one.gateway.purge({ route: 'pages' }), 1);
    // The docs route's answer is still on the disk: the other worker reads it.
    const kept = await request(two.url, { path: '/docs/kept', headers: host });
    assert.match(String(kept.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 2, 'the docs answer was not fetched again');

    // The pages route fills its 4 KiB many times over: the docs file stays (its 1 MiB is its own).
    for (let i = 0; i < 12; i++) await request(one.url, { path: `/pages/${i}`, headers: host });
    // Trimmed: the pages files under 4 KiB (with the docs file beside them, about 1.3 KiB).
    // A file listed may be gone by its stat: the trim runs meanwhile.
    const total = () =>
      filesUnder(dir).reduce((sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0), 0);
    await waitUntil('a trim of the directory', () => filesUnder(dir).length < 13 && total() <= 4096 + 2048);
    const three = await startTestGateway(twoRoutes(origin.url, dir));
    try {
      const still = await request(three.url, { path: '/docs/kept', headers: host });
      assert.match(String(still.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
      assert.equal(origin.heads.length, 14);
    } finally {
      await three.close();
    }
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});

test("a dead worker's temporary file is removed by the next scan against max_disk; one of a write under way stays", async () => {
  const dir = tempDir('candor-cache-');
  mkdirSync(join(dir, 'pages'), { mode: 0o700 });
  // What a worker killed between its write and its rename leaves: a whole answer under a temporary name.
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
  // A write over a tenth of max_disk starts a scan.
  const gw = await startTestGateway(config(origin.url, dir, '2KiB'));
  try {
    await request(gw.url, { path: '/pages/a' });
    await waitUntil("the dead worker's temporary file removed", () => !existsSync(orphan));
    assert.ok(existsSync(writing), 'a temporary file of a write under way is left to its rename');
    assert.equal(filesIn(dir).length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

/** Bytes this process has read so far (Linux's /proc/self/io `rchar`: files and sockets alike). */
const bytesRead = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);

test("a file larger than the route's max_entry (and its first line) is a miss, and is not read", async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'the page',
  });
  const one = await startTestGateway(config(origin.url, dir));
  const two = await startTestGateway(config(origin.url, dir));
  try {
    const host = { host: 'pages.test' };
    await request(one.url, { path: '/pages/big', headers: host });
    await waitUntil('the answer written to the directory', () => filesIn(dir).length === 1);
    // The file grows to 64 MiB (sparse: no disk taken), its first line saying so: the route's
    // max_entry is 1 MiB, so no answer it could keep is that large.
    const file = join(dir, 'pages', filesIn(dir)[0]);
    const bytes = readFileSync(file);
    const end = bytes.indexOf(10);
    const head = JSON.parse(bytes.subarray(0, end).toString());
    const size = 64 * 1024 * 1024;
    writeFileSync(file, `${JSON.stringify({ ...head, length: size })}\n`);
    truncateSync(file, end + 1 + size);
    const before = bytesRead();
    const again = await request(two.url, { path: '/pages/big', headers: host });
    assert.equal(again.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(again.text, 'the page');
    assert.ok(bytesRead() - before < 8 * 1024 * 1024, `read ${bytesRead() - before} bytes`);
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});

test('an answer a 304 refreshed is written back to the directory: after a restart it is the refreshed one, fresh, not the stale one before it', async (t) => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0', 'ETag', '"v1"', 'X-Version', 'old'],
    body: 'page',
  });
  t.after(() => origin.stop());
  // One host on both: the key is the target URI, not the gateway's port.
  const host = { host: 'pages.test' };
  const file = () => readFileSync(join(dir, 'pages', filesIn(dir)[0]), 'latin1');
  const before = await startTestGateway(config(origin.url, dir));
  t.after(() => before.close());
  await request(before.url, { path: '/pages/r', headers: host });
  await waitUntil('the answer written to the directory', () => filesIn(dir).length === 1);
  // Stale at once: the next request revalidates it, and the 304 makes it fresh, with a new field.
  origin.answer.fields = ['Cache-Control', 'max-age=600', 'ETag', '"v1"', 'X-Version', 'new'];
  origin.notModifiedFor = '"v1"';
  const refreshed = await request(before.url, { path: '/pages/r', headers: host });
  assert.match(String(refreshed.headers['cache-status']), /fwd-status=304/);
  await waitUntil('the refreshed answer written to the directory', () => file().includes('max-age=600'));
  await before.close();
  const after = await startTestGateway(config(origin.url, dir));
  t.after(() => after.close());
  const asked = origin.heads.length;
  const res = await request(after.url, { path: '/pages/r', headers: host });
  assert.equal(res.text, 'page');
  assert.equal(res.headers['x-version'], 'new');
  assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(origin.heads.length, asked, 'the refreshed answer was fresh: the upstream is not asked');
});

test("the route's directory removed under a running gateway (an operator emptying the cache): the next answer is written to it again, and shared again", async () => {
  const dir = tempDir('candor-cache-');
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'shared',
  });
  const one = await startTestGateway(config(origin.url, dir));
  const two = await startTestGateway(config(origin.url, dir));
  try {
    const host = { host: 'pages.test' };
    await request(one.url, { path: '/pages/before', headers: host });
    await waitUntil('the first answer written', () => filesIn(dir).length === 1);
    rmSync(join(dir, 'pages'), { recursive: true });

    assert.equal(
      (await request(one.url, { path: '/pages/s', headers: host })).headers['cache-status'],
      'edge-1; fwd=uri-miss',
    );
    await waitUntil(
      'the answer written to the directory made again',
      () => existsSync(join(dir, 'pages')) && filesIn(dir).length === 1,
    );
    assert.equal(statSync(join(dir, 'pages')).mode & 0o777, 0o700);
    const hit = await request(two.url, { path: '/pages/s', headers: host });
    assert.equal(hit.text, 'shared');
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 2, 'the second gateway read it from the directory');
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});
