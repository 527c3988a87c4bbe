/**
 * A route's cache meeting the edges of RFC 9110 §14 (Range, If-Range, Content-Range, 206, 416)
 * and origins that misbehave with them: a one-byte range, a suffix longer than the body, one past
 * the end, a Range that does not read or of many parts, a HEAD's, a weak or dated If-Range that
 * must not match; a stored 200 that carries a Content-Range of its own; an origin that ignores
 * Range, or that answers the whole fetch (no Range sent) with a 206. What reached the origin is
 * counted each time.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { cachedPages } from '../../helpers/cached-pages.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const BODY = Buffer.from('0123456789abcdefghij'.repeat(100));
const SIZE = BODY.length;

interface Seen {
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
}

/**
 * An origin whose paths misbehave: `/pages/ignoring*` answers every GET with the whole 200
 * (Range ignored, §14.2 allows it); `/pages/parted*` answers every GET with a 206 of its first
 * ten bytes, Range or not (§15.3.7 forbids it without one); `/pages/ranged*` a 200 that carries
 * a Content-Range of its own (meaningless on a 200, §14.4); `/pages/undated*` has an ETag and no
 * Last-Modified. Every answer may be stored for ten minutes, but `no-store` paths.
 */
function origin(seen: Seen[]) {
  return keep(
    listenOnLoopback((req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = req.url ?? '';
      seen.push({
        path: url,
        range: req.headers.range,
        ifRange: req.headers['if-range'] as string | undefined,
      });
      const fields: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'cache-control': url.includes('no-store') ? 'no-store' : 'max-age=600',
        etag: '"v1"',
      };
      if (!url.includes('undated')) fields['last-modified'] = 'Tue, 03 Nov 2026 10:00:00 GMT';
      if (url.includes('parted')) {
        res.writeHead(206, { ...fields, 'content-range': `bytes 0-9/${SIZE}`, 'content-length': '10' });
        return void res.end(BODY.subarray(0, 10));
      }
      if (url.includes('ranged')) fields['content-range'] = `bytes 0-${SIZE - 1}/${SIZE}`;
      res.writeHead(200, { ...fields, 'content-length': String(SIZE) });
      res.end(BODY);
    }),
  );
}

const gateway = async (seen: Seen[]) => keep(startTestGateway(cachedPages((await origin(seen)).url)));

/** How many times the answer's head names `name` (a field sent twice is two). */
function times(raw: readonly string[], name: string): number {
  return raw.filter((each, i) => i % 2 === 0 && each.toLowerCase() === name).length;
}

test('a stored 200 met by Range edges: bytes=0-0, a suffix past the length, one past the end (416), a Range that does not read or of many parts (200): all from the store', async () => {
  const seen: Seen[] = [];
  const gw = await gateway(seen);
  assert.equal((await request(gw.url, { path: '/pages/file' })).status, 200);
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
    const got = await request(gw.url, { path: '/pages/file', headers: { range } });
    const label = range.slice(0, 40);
    assert.equal(got.status, status, label);
    assert.equal(got.headers['content-range'], contentRange, label);
    assert.equal(got.headers['content-length'], String(body.length), label);
    assert.deepEqual(got.body, body, label);
  }
  assert.deepEqual(seen, [{ path: '/pages/file', range: undefined, ifRange: undefined }]);
});

test("If-Range that must not match a stored 200 (a weak tag, its own tag made weak, a date when it has no Last-Modified): the whole 200; a HEAD's Range is ignored", async () => {
  const seen: Seen[] = [];
  const gw = await gateway(seen);
  assert.equal((await request(gw.url, { path: '/pages/undated' })).status, 200);
  for (const ifRange of ['W/"v1"', 'Tue, 03 Nov 2026 10:00:00 GMT', '"v2"']) {
    const got = await request(gw.url, {
      path: '/pages/undated',
      headers: { range: 'bytes=0-4', 'if-range': ifRange },
    });
    assert.equal(got.status, 200, ifRange);
    assert.equal(got.headers['content-range'], undefined, ifRange);
    assert.deepEqual(got.body, BODY, ifRange);
  }
  const head = await rawRequest(
    gw.port,
    `HEAD /pages/undated HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n`,
  );
  assert.match(head.raw, /^HTTP\/1\.1 200 /);
  assert.match(head.raw, new RegExp(`\\r\\ncontent-length: ${SIZE}\\r\\n`, 'i'));
  assert.doesNotMatch(head.raw, /content-range/i);
  assert.deepEqual(seen, [{ path: '/pages/undated', range: undefined, ifRange: undefined }]);
});

test('a stored 200 that carries a Content-Range of its own (meaningless on a 200, RFC 9110 §14.4): the 206 cut from it names its own part, once', async () => {
  const seen: Seen[] = [];
  const gw = await gateway(seen);
  assert.equal((await request(gw.url, { path: '/pages/ranged' })).status, 200);
  const part = await request(gw.url, { path: '/pages/ranged', headers: { range: 'bytes=5-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '56789');
  assert.equal(times(part.rawHeaders, 'content-range'), 1, JSON.stringify(part.rawHeaders));
  assert.equal(part.headers['content-range'], `bytes 5-9/${SIZE}`);
  assert.equal(seen.length, 1);
});

test('an origin that ignores Range: a Range that goes as sent (its answer not kept) gets its whole 200, relayed as it came', async () => {
  const seen: Seen[] = [];
  const gw = await gateway(seen);
  const got = await request(gw.url, { path: '/pages/ignoring-no-store', headers: { range: 'bytes=5-9' } });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, BODY);
  assert.equal(got.headers['content-range'], undefined);
  // The whole fetch (no Range), then the Range as the client sent it.
  assert.deepEqual(seen, [
    { path: '/pages/ignoring-no-store', range: undefined, ifRange: undefined },
    { path: '/pages/ignoring-no-store', range: 'bytes=5-9', ifRange: undefined },
  ]);
});

test('an origin that answers the whole fetch (no Range sent) with a 206: nothing is stored as the whole answer, the Range goes as sent, and the key is not fetched whole again for the next Range', async () => {
  const seen: Seen[] = [];
  const gw = await gateway(seen);
  const first = await request(gw.url, { path: '/pages/parted', headers: { range: 'bytes=0-9' } });
  assert.equal(first.status, 206);
  assert.equal(first.headers['content-range'], `bytes 0-9/${SIZE}`);
  assert.deepEqual(first.body, BODY.subarray(0, 10));
  assert.deepEqual(seen, [
    { path: '/pages/parted', range: undefined, ifRange: undefined },
    { path: '/pages/parted', range: 'bytes=0-9', ifRange: undefined },
  ]);
  // No 206 was stored as a 200: a plain GET goes upstream, and is given what the origin sends.
  const plain = await request(gw.url, { path: '/pages/parted' });
  assert.equal(plain.status, 206);
  assert.equal(plain.headers['content-range'], `bytes 0-9/${SIZE}`);
  assert.equal(seen.length, 3);
  const again = await request(gw.url, { path: '/pages/parted', headers: { range: 'bytes=0-9' } });
  assert.equal(again.status, 206);
  assert.deepEqual(seen.slice(3), [{ path: '/pages/parted', range: 'bytes=0-9', ifRange: undefined }]);
});
