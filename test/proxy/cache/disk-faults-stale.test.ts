/**
 * What a cache folder on a failing disk (faulty-disk.ts) does to the answers served from it when
 * the upstream fails too (stale-if-error), to a Range whose whole answer cannot be kept, and to a
 * client reading an answer whose file goes meanwhile: a
 * stored copy is the stale answer only when it is whole and its own; else the upstream's failure
 * is told as it is. Two gateways on one folder stand in for two workers.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { cachedPages, storedIn } from '../../helpers/cached-pages.ts';
import { fillUp, smallDisk } from '../../helpers/faulty-disk.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { BODY, rangedOrigin, type Seen } from '../../helpers/ranged-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const config = (url: string, dir: string) =>
  cachedPages(url, `{ dir: ${dir}, max_disk: 10MiB, stale_if_error: 60s }`);
const host = { host: 'pages.test' };

async function setUp(t: TestContext) {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return undefined;
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'ETag', '"v1"'],
    body: 'stored answer',
  });
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

for (const [shape, spoil] of [
  ['whole', () => {}],
  ['cut to half', (file: string) => truncateSync(file, Math.floor(readFileSync(file).length / 2))],
  ['removed', (file: string) => rmSync(file)],
] as [string, (file: string) => void][])
  test(`the upstream down and the stored file ${shape}: ${shape === 'whole' ? 'the stale answer, said so' : 'the 502 of the upstream, never the spoiled copy'}`, async (t) => {
    const set = await setUp(t);
    if (set === undefined) return;
    const { dir, origin, gateway } = set;
    const one = await gateway();
    assert.equal((await request(one.url, { path: '/pages/a', headers: host })).status, 200);
    await waitUntil('the answer written', () => storedIn(dir).length === 1);
    spoil(join(dir, 'pages', storedIn(dir)[0]));
    origin.mood = 'reset';
    const two = await gateway();
    const got = await request(two.url, { path: '/pages/a', headers: host });
    if (shape === 'whole') {
      assert.equal(got.status, 200);
      assert.equal(got.text, 'stored answer');
      assert.match(String(got.headers['cache-status']), /fwd=stale/);
      return;
    }
    assert.equal(got.status, 502);
    assert.match(
      String(got.headers['proxy-status']),
      /connection_terminated|http_response_incomplete|connection_refused/,
    );
    assert.doesNotMatch(got.text, /stored answer/);
  });

test('the disk full and the upstream then down: the answer kept in memory is still the stale one, from the worker that fetched it', async (t) => {
  const set = await setUp(t);
  if (set === undefined) return;
  const { dir, origin, gateway } = set;
  mkdirSync(join(dir, 'pages'));
  fillUp(dir);
  const one = await gateway();
  assert.equal((await request(one.url, { path: '/pages/a', headers: host })).status, 200);
  origin.mood = 'reset';
  const stale = await request(one.url, { path: '/pages/a', headers: host });
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'stored answer');
  assert.match(String(stale.headers['cache-status']), /fwd=stale/);
  // Another worker has nothing on the disk to stand in: the upstream's failure, as it is.
  const two = await gateway();
  assert.equal((await request(two.url, { path: '/pages/a', headers: host })).status, 502);
});

test('Ranges on a full disk, in two workers at once: each gets its own bytes, 206, and nothing is left in the folder', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const seen: Seen[] = [];
  const origin = await rangedOrigin(seen);
  t.after(() => origin.close());
  mkdirSync(join(dir, 'pages'));
  fillUp(dir);
  const cache = `{ dir: ${dir}, lock_timeout: 5s }`;
  const one = await startTestGateway(cachedPages(origin.url, cache));
  t.after(() => one.close());
  const two = await startTestGateway(cachedPages(origin.url, cache));
  t.after(() => two.close());
  const authority = new URL(one.url).host;
  const [a, b] = await Promise.all([
    request(one.url, { path: '/pages/clip', headers: { range: 'bytes=0-9' }, timeoutMs: 5000 }),
    request(two.url, {
      path: '/pages/clip',
      headers: { host: authority, range: 'bytes=100-199' },
      timeoutMs: 5000,
    }),
  ]);
  assert.equal(a.status, 206);
  assert.deepEqual(a.body, BODY.subarray(0, 10));
  assert.equal(b.status, 206);
  assert.deepEqual(b.body, BODY.subarray(100, 200));
  // The writes that failed remove what they made (once over: they run after the answers).
  await waitUntil('no file left', () => readdirSync(join(dir, 'pages')).length === 0);
});

test('a stored file removed while another worker sends it to a client that reads slowly: the client gets it whole, the next worker fetches anew', async (t) => {
  const dir = smallDisk(t, '4m');
  if (dir === undefined) return;
  const big = 'z'.repeat(900 * 1024);
  const origin = await startMoodyOrigin({ status: 200, fields: ['Cache-Control', 'max-age=60'], body: big });
  t.after(() => origin.stop());
  const gateways: TestGateway[] = [];
  t.after(() => Promise.all(gateways.map((gw) => gw.close())));
  const gateway = async () => {
    const gw = await startTestGateway(
      cachedPages(origin.url, `{ dir: ${dir}, max_entry: 1MiB, max_disk: 10MiB }`),
    );
    gateways.push(gw);
    return gw;
  };
  const one = await gateway();
  assert.equal((await request(one.url, { path: '/pages/a', headers: host })).text.length, big.length);
  await waitUntil('the answer written', () => storedIn(dir).length === 1);
  const file = join(dir, 'pages', storedIn(dir)[0]);
  const two = await gateway();
  const socket = net.connect(two.port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    // The head is here: the rest waits, unread, while the file goes.
    if (Buffer.concat(chunks).includes('\r\n\r\n')) socket.pause();
  });
  socket.write('GET /pages/a HTTP/1.1\r\nHost: pages.test\r\nConnection: close\r\n\r\n');
  await waitUntil('the head read', () => Buffer.concat(chunks).includes('\r\n\r\n'));
  rmSync(file);
  socket.removeAllListeners('data');
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = once(socket, 'close');
  socket.resume();
  await closed;
  const whole = Buffer.concat(chunks).toString('latin1');
  assert.match(whole, /^HTTP\/1\.1 200 /);
  assert.match(whole, /cache-status: edge-1; hit/i);
  assert.equal(whole.slice(whole.indexOf('\r\n\r\n') + 4), big);
  const three = await gateway();
  const anew = await request(three.url, { path: '/pages/a', headers: host });
  assert.equal(anew.text, big);
  assert.equal(anew.headers['cache-status'], 'edge-1; fwd=uri-miss');
});
