/**
 * The shared cache folder (`cache.dir`) on a disk that fails, for real (faulty-disk.ts): full
 * before or during a write, read-only from the start or since, its files cut, overwritten with
 * garbage, a FIFO or a folder in a file's place. The client always gets the upstream's whole
 * answer; what is on the disk is never served unless it is whole and its own (two gateways on one
 * folder stand in for two workers: the second reads what the first wrote).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { cachedPages, namesIn, storedIn } from '../../helpers/cached-pages.ts';
import { fillUp, freeUp, readOnly, smallDisk, writable } from '../../helpers/faulty-disk.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue } from '../../observe/metrics/scrape.ts';

const config = (url: string, dir: string) =>
  cachedPages(url, `{ dir: ${dir}, max_disk: 10MiB, max_entry: 1MiB }`);

const host = { host: 'pages.test' };
/** The route's stored answers, and every other file of its folder (temporary ones). */

async function setUp(t: TestContext, size = '256k', body = 'stored answer') {
  const dir = smallDisk(t, size);
  if (dir === undefined) return undefined;
  const origin = await startMoodyOrigin({ status: 200, fields: ['Cache-Control', 'max-age=60'], body });
  t.after(() => origin.stop());
  const gateways: TestGateway[] = [];
  t.after(() => Promise.all(gateways.map((gw) => gw.close())));
  const gateway = async () => {
    const gw = await startTestGateway(config(origin.url, dir));
    gateways.push(gw);
    return gw;
  };
  return { dir, origin, gateway };
}

/** candor_cache_disk_failures_total of the route, for this kind, as the gateway's scrape has it. */
async function diskFailures(gw: TestGateway, kind: 'write' | 'unread'): Promise<number | undefined> {
  const all = samples((await gw.gateway.metrics.exposition()).text);
  return sampleValue(all, 'candor_cache_disk_failures_total', { route: 'pages', kind });
}

/** A first gateway stores /pages/a on the disk; returns its file. */
async function stored(dir: string, gw: TestGateway, path = '/pages/a'): Promise<string> {
  const before = new Set(storedIn(dir));
  const first = await request(gw.url, { path, headers: host });
  assert.equal(first.status, 200);
  await waitUntil('the answer written to the folder', () => storedIn(dir).some((f) => !before.has(f)));
  return join(dir, 'pages', storedIn(dir).find((f) => !before.has(f)) as string);
}

test('a full disk from the start: every answer whole and uncached on disk, no temporary file left, and a write once there is room again', async (t) => {
  const set = await setUp(t);
  if (set === undefined) return;
  const { dir, origin, gateway } = set;
  mkdirSync(join(dir, 'pages'));
  fillUp(dir);
  const one = await gateway();
  const got = await request(one.url, { path: '/pages/a', headers: host });
  assert.equal(got.status, 200);
  assert.equal(got.text, 'stored answer');
  assert.equal(got.headers['cache-status'], 'edge-1; fwd=uri-miss');
  // Kept in memory all the same: the disk is a second chance.
  const again = await request(one.url, { path: '/pages/a', headers: host });
  assert.match(String(again.headers['cache-status']), /^edge-1; hit/);
  await waitUntil('the failed write told', () => one.logs.some((l) => l.msg === 'cache write failed'));
  const told = one.logs.find((l) => l.msg === 'cache write failed');
  assert.equal(told?.level, 'warn');
  assert.equal(told?.route, 'pages');
  assert.match(String(told?.details), /ENOSPC/);
  // No temporary file left (removed just after the failure is told: the look may come between).
  await waitUntil('the temporary file removed', () => namesIn(dir).length === 0);
  const two = await gateway();
  assert.equal(
    (await request(two.url, { path: '/pages/a', headers: host })).headers['cache-status'],
    'edge-1; fwd=uri-miss',
  );
  assert.equal(origin.heads.length, 2);
  freeUp(dir);
  await stored(dir, two, '/pages/b');
});

test('the disk fills while a large answer is written: the client gets all of it, and the cut file is never served', async (t) => {
  const body = 'x'.repeat(150 * 1024);
  const set = await setUp(t, '256k', body);
  if (set === undefined) return;
  const { dir, origin, gateway } = set;
  mkdirSync(join(dir, 'pages'));
  // About 100 KiB left: the write starts and stops short.
  writeFileSync(join(dir, 'filler'), Buffer.alloc(150 * 1024));
  const one = await gateway();
  const got = await request(one.url, { path: '/pages/a', headers: host });
  assert.equal(got.status, 200);
  assert.equal(got.text.length, body.length);
  assert.equal(got.text, body);
  await waitUntil('the failed write told', () => one.logs.some((l) => l.msg === 'cache write failed'));
  // (Removed just after it is told: on a loaded machine the look could come in between.)
  await waitUntil('the cut file removed', () => namesIn(dir).length === 0);
  const two = await gateway();
  const other = await request(two.url, { path: '/pages/a', headers: host });
  assert.equal(other.text, body);
  assert.equal(other.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.equal(origin.heads.length, 2);
});

test('a read-only cache folder from the start: the gateway starts, answers whole, says so once', async (t) => {
  const set = await setUp(t);
  if (set === undefined) return;
  const { dir, origin, gateway } = set;
  readOnly(t, dir);
  const one = await gateway();
  for (const path of ['/pages/a', '/pages/b', '/pages/c']) {
    const got = await request(one.url, { path, headers: host });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'stored answer');
  }
  await waitUntil('the failed write told', () => one.logs.some((l) => l.msg === 'cache write failed'));
  const told = one.logs.filter((l) => l.msg === 'cache write failed');
  assert.equal(told.length, 1, 'said once, not per answer');
  assert.match(String(told[0].details), /EROFS|ENOENT/);
  assert.equal(origin.heads.length, 3);
  // Counted per answer kept out, though told once.
  await waitUntil('each failed write counted', async () => (await diskFailures(one, 'write')) === 3);
});

test('a cache folder that turns read-only at run time: its answers are still read, new ones served uncached, and written again once writable', async (t) => {
  const set = await setUp(t);
  if (set === undefined) return;
  const { dir, origin, gateway } = set;
  const one = await gateway();
  await stored(dir, one);
  readOnly(t, dir);
  const b = await request(one.url, { path: '/pages/b', headers: host });
  assert.equal(b.status, 200);
  assert.equal(b.text, 'stored answer');
  await waitUntil('the failed write told', () => one.logs.some((l) => l.msg === 'cache write failed'));
  const two = await gateway();
  const hit = await request(two.url, { path: '/pages/a', headers: host });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit/, 'read off the read-only disk');
  assert.equal(origin.heads.length, 2);
  writable(dir);
  await stored(dir, two, '/pages/c');
});

test('an immutable cache folder (chattr +i): answers whole, nothing written', async (t) => {
  const set = await setUp(t);
  if (set === undefined) return;
  const { dir, gateway } = set;
  mkdirSync(join(dir, 'pages'));
  try {
    execFileSync('chattr', ['+i', join(dir, 'pages')], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`chattr +i not available on tmpfs here: ${String(err).split('\n')[0]}`);
    return;
  }
  try {
    const one = await gateway();
    const got = await request(one.url, { path: '/pages/a', headers: host });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'stored answer');
    await waitUntil('the failed write told', () => one.logs.some((l) => l.msg === 'cache write failed'));
    assert.deepEqual(namesIn(dir), []);
  } finally {
    execFileSync('chattr', ['-i', join(dir, 'pages')]);
  }
});

const corruptions: [string, (file: string) => void][] = [
  // The control: what the shapes below break is otherwise read back.
  ['left as written', () => {}],
  ['truncated to half', (file) => truncateSync(file, Math.floor(readFileSync(file).length / 2))],
  ['truncated to nothing', (file) => truncateSync(file, 0)],
  ['its body cut by one byte', (file) => truncateSync(file, readFileSync(file).length - 1)],
  [
    'overwritten with garbage of the same length',
    (file) => writeFileSync(file, Buffer.alloc(readFileSync(file).length, 0xa7)),
  ],
  [
    'its body changed, the head kept',
    (file) => {
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] ^= 0xff;
      writeFileSync(file, bytes);
    },
  ],
  [
    'its head line not JSON',
    (file) => {
      const bytes = readFileSync(file);
      bytes[0] = 0x5b;
      writeFileSync(file, bytes);
    },
  ],
  [
    'its head claiming a longer body',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace(/"length":\d+/, '"length":99999'), 'latin1');
    },
  ],
  [
    'its head naming another key',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace('/pages/a', '/pages/z'), 'latin1');
    },
  ],
  [
    'its head with no newline (one line of garbage)',
    (file) => writeFileSync(file, '{"key":'.padEnd(5000, 'q')),
  ],
  [
    'its status made 999',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace(/"status":200/, '"status":999'), 'latin1');
    },
  ],
  [
    'its status made 0',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace(/"status":200/, '"status":0'), 'latin1');
    },
  ],
  [
    'its status made 200.5',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace(/"status":200/, '"status":200.5'), 'latin1');
    },
  ],
  [
    'its reason given a line break and a field of its own',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(
        file,
        text.replace(/"reason":"[^"]*"/, '"reason":"OK\\r\\nSet-Cookie: planted=1"'),
        'latin1',
      );
    },
  ],
  [
    'a stored field value given a line break',
    (file) => {
      const text = readFileSync(file, 'latin1');
      writeFileSync(file, text.replace(/"max-age=60"/, '"max-age=60\\r\\nSet-Cookie: planted=1"'), 'latin1');
    },
  ],
  [
    'a FIFO in its place',
    (file) => {
      rmSync(file);
      execFileSync('mkfifo', [file]);
    },
  ],
  [
    'a folder in its place',
    (file) => {
      rmSync(file);
      mkdirSync(file);
    },
  ],
  [
    'a symlink to /dev/zero in its place',
    (file) => {
      rmSync(file);
      execFileSync('ln', ['-s', '/dev/zero', file]);
    },
  ],
];

for (const [shape, corrupt] of corruptions)
  test(`a stored file ${shape}: ${shape === 'left as written' ? 'a hit' : 'never served, fetched anew and whole'}`, async (t) => {
    const set = await setUp(t);
    if (set === undefined) return;
    const { dir, origin, gateway } = set;
    const one = await gateway();
    const file = await stored(dir, one);
    corrupt(file);
    const two = await gateway();
    const got = await request(two.url, { path: '/pages/a', headers: host });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'stored answer');
    assert.equal(got.headers['set-cookie'], undefined);
    if (shape === 'left as written') {
      assert.match(String(got.headers['cache-status']), /^edge-1; hit/);
      return;
    }
    assert.equal(got.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(origin.heads.length, 2, 'fetched anew');
    // Told once, naming the file and why.
    const told = two.logs.filter((l) => l.msg === 'cache file not used');
    assert.equal(told.length, 1);
    assert.equal(told[0].level, 'warn');
    assert.equal(told[0].route, 'pages');
    assert.equal(told[0].file, file);
    assert.equal(typeof told[0].details, 'string');
    // Counted at each read of it (a miss reads the key again once it holds the fill's lock).
    assert.ok(((await diskFailures(two, 'unread')) ?? 0) >= 1);
  });
