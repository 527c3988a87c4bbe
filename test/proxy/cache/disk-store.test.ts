/**
 * cache.dir: the workers share their stored answers through a directory (two gateways on one
 * directory stand in for two workers here), kept under max_disk, purged with the memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
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

const filesIn = (dir: string) => readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name));

test('an answer one worker stored is a hit in another (from the shared directory), and a purge empties it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-cache-'));
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

    assert.equal(one.gateway.purge({}), 1);
    assert.equal(filesIn(dir).length, 0);
  } finally {
    await one.close();
    await two.close();
    await origin.stop();
  }
});

test('a purge counts what it removed from the directory too: after a restart, with nothing in memory, it is not "0 removed"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-cache-'));
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
    assert.equal(after.gateway.purge({ route: 'pages' }), 2);
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
  const dir = mkdtempSync(join(tmpdir(), 'candor-cache-'));
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'x'.repeat(1000),
  });
  const gw = await startTestGateway(config(origin.url, dir, '4KiB'));
  try {
    for (let i = 0; i < 12; i++) await request(gw.url, { path: `/pages/${i}` });
    const total = () => filesIn(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    await waitUntil('the directory under 4 KiB', () => filesIn(dir).length > 0 && total() <= 4096);
    assert.ok(filesIn(dir).length < 12);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test("a file keeps no client's credentials and is the gateway's alone: only the fields Vary names, owner-only", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'candor-cache-')), 'shared');
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
    const text = readFileSync(join(dir, name), 'utf8');
    assert.doesNotMatch(text, /alice/);
    assert.match(text, /"accept-language":"fr"/);
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
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
    const dir = mkdtempSync(join(tmpdir(), 'candor-cache-'));
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
      const file = join(dir, filesIn(dir)[0]);
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
