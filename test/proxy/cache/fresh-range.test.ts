/**
 * A GET's Range met by a fresh stored 200 (RFC 9111 §3.4, RFC 9110 §14.2): the cache answers it
 * from the store, as nginx's proxy_cache and a static file do: one byte range a 206 of the stored
 * bytes, one past the end a 416, several ranges or a failing If-Range the whole 200. A resumed
 * download or a video seek no longer reaches the origin every time. On a compressing route, a
 * client that may hold a compressed copy (If-Range naming the date) gets the whole answer,
 * compressed, never identity bytes to splice into it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type http from 'node:http';
import http2 from 'node:http2';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const BODY = Buffer.from('0123456789abcdefghij'.repeat(100));
const SIZE = BODY.length;
// A second and more before Date: a strong validator If-Range may name (RFC 9110 §8.8.2.2).
const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';

interface Seen {
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  readonly ifNoneMatch?: string | undefined;
}

/** An origin as a file server is: ETag, Last-Modified, one byte range honoured (If-Range permitting). */
async function origin(seen: Seen[], cacheControl = 'max-age=600') {
  return keep(
    listenOnLoopback((req: http.IncomingMessage, res: http.ServerResponse) => {
      const range = req.headers.range;
      const ifRange = req.headers['if-range'];
      const ifNoneMatch = req.headers['if-none-match'];
      seen.push({
        path: req.url ?? '',
        range,
        ifRange: ifRange as string | undefined,
        ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }),
      });
      const type = req.url?.includes('video') ? 'video/mp4' : 'text/plain';
      const fields = {
        'content-type': type,
        'cache-control': cacheControl,
        etag: '"v1"',
        'last-modified': MODIFIED,
        'accept-ranges': 'bytes',
      };
      if (ifNoneMatch === '"v1"') {
        res.writeHead(304, fields);
        res.end();
        return;
      }
      const one = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
      if (one !== null && (ifRange === undefined || ifRange === '"v1"' || ifRange === MODIFIED)) {
        const start = Number(one[1]);
        if (start >= SIZE) {
          res.writeHead(416, { ...fields, 'content-range': `bytes */${SIZE}` });
          res.end();
          return;
        }
        const end = one[2] === '' ? SIZE - 1 : Math.min(Number(one[2]), SIZE - 1);
        res.writeHead(206, { ...fields, 'content-range': `bytes ${start}-${end}/${SIZE}` });
        res.end(BODY.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { ...fields, 'content-length': SIZE });
      res.end(BODY);
    }),
  );
}

function routes(url: string, compression = ''): string {
  return `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
    ${compression}
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

const HIT = /^edge-1; hit; ttl=\d+$/;

test('a fresh stored 200 answers one byte range with a 206 of its bytes, from the store: the upstream is not asked', async () => {
  const seen: Seen[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(routes(upstream.url)));
  assert.equal((await request(gw.url, { path: '/pages/file' })).status, 200);
  const cases: [Record<string, string>, string, string][] = [
    [{ range: 'bytes=0-5' }, 'bytes 0-5/2000', '012345'],
    [{ range: 'bytes=1990-' }, 'bytes 1990-1999/2000', 'abcdefghij'],
    [{ range: 'bytes=-4' }, 'bytes 1996-1999/2000', 'ghij'],
    [{ range: 'bytes=1995-5000' }, 'bytes 1995-1999/2000', 'fghij'],
    // Empty list elements are none (RFC 9110 §5.6.1): one range, as a static file's.
    [{ range: 'bytes=0-5, ,' }, 'bytes 0-5/2000', '012345'],
    [{ range: 'bytes=10-12', 'if-range': '"v1"' }, 'bytes 10-12/2000', 'abc'],
    [{ range: 'bytes=10-12', 'if-range': MODIFIED }, 'bytes 10-12/2000', 'abc'],
  ];
  for (const [headers, contentRange, text] of cases) {
    const part = await request(gw.url, { path: '/pages/file', headers });
    const label = JSON.stringify(headers);
    assert.equal(part.status, 206, label);
    assert.equal(part.text, text, label);
    assert.equal(part.headers['content-range'], contentRange, label);
    assert.equal(part.headers['content-length'], String(text.length), label);
    assert.equal(part.headers.etag, '"v1"', label);
    assert.match(String(part.headers.age), /^\d+$/, label);
    assert.match(String(part.headers['cache-status']), HIT, label);
  }
  assert.deepEqual(seen, [{ path: '/pages/file', range: undefined, ifRange: undefined }]);
});

test('a fresh stored 200: a range past its end is a 416 naming its length; several ranges or a failing If-Range get the whole 200, from the store', async () => {
  const seen: Seen[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(routes(upstream.url)));
  assert.equal((await request(gw.url, { path: '/pages/file' })).status, 200);
  const past = await request(gw.url, { path: '/pages/file', headers: { range: 'bytes=2000-' } });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], 'bytes */2000');
  assert.equal(past.text, '');
  assert.match(String(past.headers['cache-status']), HIT);
  for (const headers of [
    { range: 'bytes=0-1,5-6' },
    { range: 'bytes=0-5', 'if-range': '"v0"' },
    { range: 'bytes=0-5', 'if-range': 'W/"v1"' },
    { range: 'bytes=0-5', 'if-range': 'Wed, 04 Nov 2026 10:00:00 GMT' },
  ]) {
    const whole = await request(gw.url, { path: '/pages/file', headers });
    const label = JSON.stringify(headers);
    assert.equal(whole.status, 200, label);
    assert.deepEqual(whole.body, BODY, label);
    assert.equal(whole.headers['content-range'], undefined, label);
    assert.match(String(whole.headers['cache-status']), HIT, label);
  }
  assert.equal(seen.length, 1, 'only the first request reached the upstream');
});

test('a compressing route: a fresh stored answer resumed with If-Range: <date> by a client taking gzip goes whole, compressed; others get their 206 of the identity bytes', async () => {
  const seen: Seen[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(routes(upstream.url, 'compression: {}')));
  for (const path of ['/pages/file', '/pages/video']) {
    const first = await request(gw.url, { path, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(first.status, 200, path);
  }
  const gzip = { 'accept-encoding': 'gzip' };
  // The compressed copy's date: a 206 of identity bytes spliced into it would corrupt it.
  const resumed = await request(gw.url, {
    path: '/pages/file',
    headers: { ...gzip, range: 'bytes=1000-', 'if-range': MODIFIED },
  });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.headers['content-encoding'], 'gzip');
  assert.equal(resumed.headers['content-range'], undefined);
  assert.deepEqual(gunzipSync(resumed.body), BODY);
  assert.match(String(resumed.headers['cache-status']), HIT);
  // The strong ETag only an identity copy carries (a compressed one's is weak): its bytes.
  const tagged = await request(gw.url, {
    path: '/pages/file',
    headers: { ...gzip, range: 'bytes=1000-', 'if-range': '"v1"' },
  });
  assert.equal(tagged.status, 206);
  assert.equal(tagged.headers['content-encoding'], undefined);
  assert.deepEqual(tagged.body, BODY.subarray(1000));
  assert.equal(tagged.headers.vary, 'Accept-Encoding');
  // A seek with no copy held, a type never compressed, a client taking no coding: the 206.
  for (const [path, headers] of [
    ['/pages/file', { ...gzip, range: 'bytes=0-9' }],
    ['/pages/video', { ...gzip, range: 'bytes=0-9', 'if-range': MODIFIED }],
    ['/pages/file', { range: 'bytes=0-9', 'if-range': MODIFIED }],
  ] as const) {
    const part = await request(gw.url, { path, headers });
    const label = `${path} ${JSON.stringify(headers)}`;
    assert.equal(part.status, 206, label);
    assert.equal(part.headers['content-encoding'], undefined, label);
    assert.equal(part.headers['content-range'], 'bytes 0-9/2000', label);
    assert.equal(part.text, '0123456789', label);
    assert.match(String(part.headers['cache-status']), HIT, label);
  }
  assert.deepEqual(
    seen.map(({ path }) => path),
    ['/pages/file', '/pages/video'],
  );
});

test('a stale stored 200 met by a Range is revalidated with its validators: the 304 confirms it, and the client gets its 206 from the store', async () => {
  const seen: Seen[] = [];
  const upstream = await origin(seen, 'max-age=0');
  const gw = await keep(startTestGateway(routes(upstream.url)));
  assert.equal((await request(gw.url, { path: '/pages/file' })).status, 200);
  const part = await request(gw.url, { path: '/pages/file', headers: { range: 'bytes=5-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '56789');
  assert.equal(part.headers['content-range'], 'bytes 5-9/2000');
  assert.match(String(part.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-?\d+$/);
  assert.deepEqual(seen, [
    { path: '/pages/file', range: undefined, ifRange: undefined },
    { path: '/pages/file', range: 'bytes=5-9', ifRange: undefined, ifNoneMatch: '"v1"' },
  ]);
});

test("a 206 cut from a stored 200 carries no digest of the whole body as its content's (Content-Digest, Content-MD5); Repr-Digest, of the representation, stays", async () => {
  const sha = createHash('sha256').update(BODY).digest('base64');
  const md5 = createHash('md5').update(BODY).digest('base64');
  let asked = 0;
  const upstream = await keep(
    listenOnLoopback((_req, res) => {
      asked++;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'max-age=600',
        etag: '"v1"',
        'content-digest': `sha-256=:${sha}:`,
        'repr-digest': `sha-256=:${sha}:`,
        'content-md5': md5,
        'content-length': SIZE,
      });
      res.end(BODY);
    }),
  );
  const gw = await keep(startTestGateway(routes(upstream.url)));
  const whole = await request(gw.url, { path: '/pages/blob' });
  assert.equal(whole.headers['content-digest'], `sha-256=:${sha}:`);
  const part = await request(gw.url, { path: '/pages/blob', headers: { range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '0123456789');
  assert.equal(part.headers['content-digest'], undefined, "the whole body's digest is not the part's");
  assert.equal(part.headers['content-md5'], undefined);
  assert.equal(part.headers['repr-digest'], `sha-256=:${sha}:`);
  assert.match(String(part.headers['cache-status']), HIT);
  assert.equal(asked, 1);
});

test('HTTP/2: a fresh stored 200 answers a Range with its 206, from the store', async () => {
  const seen: Seen[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(routes(upstream.url), {}, 'http2: true'));
  assert.equal((await request(gw.url, { path: '/pages/file' })).status, 200);
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const part = await new Promise<{ head: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/pages/file', range: 'bytes=-3' });
      const timer = setTimeout(() => reject(new Error('no answer within 15 s')), 15_000);
      let head: http2.IncomingHttpHeaders = {};
      let body = '';
      stream.on('response', (h) => {
        head = h;
      });
      stream.setEncoding('latin1');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({ head, body });
      });
      stream.end();
    });
    assert.equal(part.head[':status'], 206);
    assert.equal(part.body, 'hij');
    assert.equal(part.head['content-range'], 'bytes 1997-1999/2000');
    assert.match(String(part.head['cache-status']), HIT);
  } finally {
    session.destroy();
  }
  assert.equal(seen.length, 1);
});

test("a stale stored 200 whose Range's revalidation brings a 206 of another strong ETag is superseded: the next failure is not met with the replaced page", async () => {
  const seen: { range: string | undefined; ifNoneMatch: string | undefined }[] = [];
  let mood: 'v1' | 'v2' | 'down' = 'v1';
  const upstream = await keep(
    listenOnLoopback((req: http.IncomingMessage, res: http.ServerResponse) => {
      const range = req.headers.range;
      seen.push({ range, ifNoneMatch: req.headers['if-none-match'] as string | undefined });
      if (mood === 'down') {
        res.writeHead(503, { 'content-length': '4' });
        return void res.end('down');
      }
      const body = mood === 'v1' ? 'version one' : 'version two';
      const fields = { 'cache-control': 'max-age=0, stale-if-error=600', etag: `"${mood}"` };
      if (range === 'bytes=0-6') {
        res.writeHead(206, { ...fields, 'content-range': `bytes 0-6/${body.length}`, 'content-length': 7 });
        return void res.end(body.slice(0, 7));
      }
      res.writeHead(200, { ...fields, 'content-length': body.length });
      res.end(body);
    }),
  );
  const gw = await keep(startTestGateway(routes(upstream.url)));
  assert.equal((await request(gw.url, { path: '/pages/doc' })).text, 'version one');
  mood = 'v2';
  const part = await request(gw.url, { path: '/pages/doc', headers: { range: 'bytes=0-6' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, 'version');
  assert.equal(part.headers.etag, '"v2"');
  mood = 'down';
  const after = await request(gw.url, { path: '/pages/doc' });
  assert.equal(after.status, 503, 'the replaced page does not stand in for the failure');
  assert.equal(after.text, 'down');
  assert.deepEqual(seen, [
    { range: undefined, ifNoneMatch: undefined },
    { range: 'bytes=0-6', ifNoneMatch: '"v1"' },
    { range: undefined, ifNoneMatch: undefined },
  ]);
});
