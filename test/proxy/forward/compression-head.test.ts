/**
 * routes[].compression and HEAD: a HEAD's answer has no body to compress, but the fields its
 * GET's would have (RFC 9110 §9.3.2), fetched or from the cache, and so has its 304: a cache
 * freshening a stored compressed answer from a HEAD (RFC 9111 §4.3.5) finds the same validator.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Candor never lies about a failure. '.repeat(60);

/** The representation's fields as a client reads them (the hop's and the cache's own left out). */
function fields(gw: TestGateway, path: string, headers: http.OutgoingHttpHeaders, method: string) {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(`${gw.url}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        const { date, age, connection, 'keep-alive': _ka, 'cache-status': _cs, ...rest } = res.headers;
        const { 'x-request-id': _id, 'transfer-encoding': _te, ...kept } = rest;
        resolve({ status: res.statusCode ?? 0, headers: kept });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('a HEAD on a compressing route has the fields its GET has, compressed or not, fetched or stored, and so has its 304', async () => {
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      // If-None-Match compares weakly (RFC 9110 §13.1.2): W/"v1", the compressed answer's, matches.
      if (req.headers['if-none-match']?.replace(/^W\//, '') === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        return res.end();
      }
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': TEXT.length,
        'accept-ranges': 'bytes',
        etag: '"v1"',
        ...(req.url === '/cached' ? { 'cache-control': 'max-age=60' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: /cached }
    upstream: app
    cache: {}
    compression: {}
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
  );
  for (const path of ['/text', '/cached']) {
    for (const accept of [{ 'accept-encoding': 'gzip' }, { 'accept-encoding': 'br;q=0.5, gzip' }, {}]) {
      const what = `${path} ${JSON.stringify(accept)}`;
      const get = await fields(gw, path, accept, 'GET');
      // The second HEAD of /cached is a hit: the stored answer's fields, judged the same way.
      for (const round of [1, 2]) {
        const head = await fields(gw, path, { ...accept, 'x-request-id': `head-${round}` }, 'HEAD');
        assert.equal(head.status, 200, what);
        assert.deepEqual(head.headers, get.headers, `${what}, HEAD ${round}`);
      }
      if ('accept-encoding' in accept) {
        assert.equal(get.headers['content-encoding'], 'gzip');
        assert.equal(get.headers.etag, 'W/"v1"');
        assert.equal(get.headers['content-length'], undefined);
      } else assert.equal(get.headers['content-length'], String(TEXT.length));
      const notModified = await fields(
        gw,
        path,
        { ...accept, 'if-none-match': get.headers.etag as string },
        'HEAD',
      );
      assert.equal(notModified.status, 304, what);
      assert.equal(notModified.headers.etag, get.headers.etag, `${what}: the 304's ETag is its 200's`);
    }
  }
  // No body went through a compressor: the log says no coding.
  assert.equal((await gw.logFor('head-1')).encoding, undefined);
});

test("a Range on a HEAD or a POST is ignored (RFC 9110 §14.2: range handling is a GET's): its answer is judged as without one", async () => {
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': TEXT.length,
        etag: '"v1"',
        ...(req.url === '/cached' ? { 'cache-control': 'max-age=60' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: /cached }
    upstream: app
    cache: {}
    compression: {}
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
  );
  const ranged = { 'accept-encoding': 'gzip', range: 'bytes=0-9' };
  for (const path of ['/text', '/cached']) {
    const get = await fields(gw, path, { 'accept-encoding': 'gzip' }, 'GET');
    assert.equal(get.headers['content-encoding'], 'gzip');
    // Fetched, then (for /cached) from the stored GET.
    for (const round of [1, 2]) {
      const head = await fields(gw, path, ranged, 'HEAD');
      assert.equal(head.status, 200, `${path} HEAD ${round}`);
      assert.deepEqual(
        head.headers,
        get.headers,
        `${path} HEAD ${round}: the fields of the GET without Range`,
      );
    }
  }
  const post = await fields(gw, '/text', ranged, 'POST');
  assert.equal(post.status, 200);
  assert.equal(post.headers['content-encoding'], 'gzip', "a POST's answer is compressed, its Range ignored");
  assert.equal(post.headers.etag, 'W/"v1"');
});

test("a HEAD whose upstream sends no Content-Length (Node's http, on every HEAD) gets its GET's fields: compressed, the weak ETag", async () => {
  // A plain node:http origin: `res.end(body)` gives a GET its Content-Length, a HEAD none (the
  // body is never written); `write` then `end` gives the GET none either (chunked).
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('etag', '"p1"');
      if (req.url === '/chunked') {
        res.write(TEXT.slice(0, 1500));
        return res.end(TEXT.slice(1500));
      }
      res.end(TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
  );
  for (const path of ['/page', '/chunked']) {
    for (const accept of ['gzip', 'br, gzip']) {
      const what = `${path}, Accept-Encoding: ${accept}`;
      const get = await fields(gw, path, { 'accept-encoding': accept }, 'GET');
      assert.equal(get.headers['content-encoding'], accept === 'gzip' ? 'gzip' : 'br', what);
      const head = await fields(gw, path, { 'accept-encoding': accept }, 'HEAD');
      assert.equal(head.status, 200, what);
      // RFC 9110 §9.3.2: the fields its GET has. A strong "p1" would name identity bytes its GET
      // never sends this client, and a cache freshening its compressed copy from the HEAD (RFC
      // 9111 §4.3.5) would meet another validator.
      assert.deepEqual(head.headers, get.headers, what);
    }
    // A client that takes no coding: the identity answer's fields (the GET's length is the
    // upstream's own, which its HEAD did not send).
    const get = await fields(gw, path, {}, 'GET');
    const head = await fields(gw, path, {}, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined, path);
    assert.equal(head.headers.etag, '"p1"', path);
    assert.equal(head.headers.vary, 'Accept-Encoding', path);
    assert.equal(get.headers.etag, '"p1"', path);
  }
});
