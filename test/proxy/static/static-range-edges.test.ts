/**
 * routes[].static meeting the edges of RFC 9110 §14: a one-byte range, a suffix longer than the
 * file, one past its end (416 naming its length), a Range that does not read or of many parts
 * (the whole 200), a HEAD's Range (ignored), an If-Range that must not match (a weak tag, a date
 * not the file's), a Range with Accept-Encoding on a route with precompressed siblings (the
 * sibling's bytes, its own Content-Encoding and length).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-range-');
const BODY = Buffer.from('0123456789abcdefghij'.repeat(100));
const SIZE = BODY.length;
const GZIPPED = Buffer.from('GZIP-BYTES');
// A time well in the past: a strong validator a dated If-Range may name (RFC 9110 §8.8.2.2).
const MODIFIED = new Date('2026-11-03T10:00:00Z');
let gw: TestGateway;

before(async () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'file.bin'), BODY);
  writeFileSync(join(dir, 'file.txt'), BODY);
  writeFileSync(join(dir, 'file.txt.gz'), GZIPPED);
  for (const name of ['file.bin', 'file.txt', 'file.txt.gz']) utimesSync(join(dir, name), MODIFIED, MODIFIED);
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${dir}, precompressed: [gzip] }
`);
});

after(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('Range edges on a file: bytes=0-0, a suffix past its length, one past its end (416), a Range that does not read or of many parts (the whole 200)', async () => {
  const many = Array.from({ length: 200 }, (_, i) => `${i * 3}-${i * 3}`).join(',');
  const cases: [string, number, string | undefined, Buffer][] = [
    ['bytes=0-0', 206, `bytes 0-0/${SIZE}`, BODY.subarray(0, 1)],
    ['bytes=-5000', 206, `bytes 0-1999/${SIZE}`, BODY],
    ['bytes=5-', 206, `bytes 5-1999/${SIZE}`, BODY.subarray(5)],
    ['bytes=2005-', 416, `bytes */${SIZE}`, Buffer.alloc(0)],
    ['bytes=-0', 416, `bytes */${SIZE}`, Buffer.alloc(0)],
    ['bytes=x-y', 200, undefined, BODY],
    ['bytes=9-5', 200, undefined, BODY],
    ['items=0-1', 200, undefined, BODY],
    ['bytes=', 200, undefined, BODY],
    [`bytes=${many}`, 200, undefined, BODY],
  ];
  for (const [range, status, contentRange, body] of cases) {
    const got = await request(gw.url, { path: '/file.bin', headers: { range } });
    const label = range.slice(0, 40);
    assert.equal(got.status, status, label);
    assert.equal(got.headers['content-range'], contentRange, label);
    assert.equal(got.headers['content-length'], String(body.length), label);
    assert.deepEqual(got.body, body, label);
  }
});

test("If-Range that must not match a file (its tag made weak, another tag, a date not its Last-Modified): the whole 200; its own tag or date: the 206; a HEAD's Range is ignored", async () => {
  const etag = String((await request(gw.url, { path: '/file.bin' })).headers.etag);
  const misses = [`W/${etag}`, '"v0"', 'Wed, 04 Nov 2026 10:00:00 GMT', '2026-11-03T10:00:00Z'];
  for (const ifRange of misses) {
    const got = await request(gw.url, {
      path: '/file.bin',
      headers: { range: 'bytes=0-4', 'if-range': ifRange },
    });
    assert.equal(got.status, 200, ifRange);
    assert.equal(got.headers['content-range'], undefined, ifRange);
    assert.deepEqual(got.body, BODY, ifRange);
  }
  for (const ifRange of [etag, MODIFIED.toUTCString()]) {
    const got = await request(gw.url, {
      path: '/file.bin',
      headers: { range: 'bytes=0-4', 'if-range': ifRange },
    });
    assert.equal(got.status, 206, ifRange);
    assert.equal(got.text, '01234', ifRange);
  }
  const head = await rawRequest(
    gw.port,
    'HEAD /file.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n',
  );
  assert.match(head.raw, /^HTTP\/1\.1 200 /);
  assert.match(head.raw, new RegExp(`\\r\\ncontent-length: ${SIZE}\\r\\n`, 'i'));
  assert.doesNotMatch(head.raw, /content-range/i);
});

test("a Range with Accept-Encoding where a precompressed sibling is chosen: a 206 of the sibling's bytes, with its Content-Encoding; a 416 past the sibling's length", async () => {
  const part = await request(gw.url, {
    path: '/file.txt',
    headers: { range: 'bytes=0-3', 'accept-encoding': 'gzip' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-encoding'], 'gzip');
  assert.equal(part.headers['content-range'], `bytes 0-3/${GZIPPED.length}`);
  assert.deepEqual(part.body, GZIPPED.subarray(0, 4));
  assert.equal(part.headers.vary, 'Accept-Encoding');
  const past = await request(gw.url, {
    path: '/file.txt',
    headers: { range: `bytes=${GZIPPED.length}-`, 'accept-encoding': 'gzip' },
  });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${GZIPPED.length}`);
  const identity = await request(gw.url, { path: '/file.txt', headers: { range: 'bytes=0-3' } });
  assert.equal(identity.status, 206);
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.equal(identity.headers['content-range'], `bytes 0-3/${SIZE}`);
});

test('a range set with empty list elements (RFC 9110 §5.6.1: a recipient must accept them) is the one range it holds: the 206, or the 416 past the end', async () => {
  const cases: [string, number, string, Buffer][] = [
    ['bytes=0-1,', 206, `bytes 0-1/${SIZE}`, BODY.subarray(0, 2)],
    ['bytes=, 0-1', 206, `bytes 0-1/${SIZE}`, BODY.subarray(0, 2)],
    ['bytes=0-1 , ,', 206, `bytes 0-1/${SIZE}`, BODY.subarray(0, 2)],
    ['bytes=,-5', 206, `bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}`, BODY.subarray(SIZE - 5)],
    [`bytes=${SIZE}-,`, 416, `bytes */${SIZE}`, Buffer.alloc(0)],
  ];
  for (const [range, status, contentRange, body] of cases) {
    const got = await request(gw.url, { path: '/file.bin', headers: { range } });
    assert.equal(got.status, status, range);
    assert.equal(got.headers['content-range'], contentRange, range);
    assert.equal(got.headers['content-length'], String(body.length), range);
    assert.deepEqual(got.body, body, range);
  }
});
