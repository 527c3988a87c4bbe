/**
 * routes[].compression and the upstream's own fields, on real sockets: what its Content-Type,
 * Content-Encoding and Cache-Control let through, read case-insensitively, and a brotli
 * transfer cut by its upstream (aborted, never a valid brotli end, as gzip's is).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** A gateway whose one route compresses (the defaults) what `url` answers. */
function compressingGateway(url: string) {
  return startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets:
      - url: ${url}
`);
}

const keep = closeAfterAll();
const TEXT = 'The fields decide what may be compressed. '.repeat(60);
const GZIPPED = zlib.gzipSync(TEXT);

function get(gw: TestGateway, path: string, headers: http.OutgoingHttpHeaders) {
  return new Promise<{
    headers: http.IncomingHttpHeaders;
    rawHeaders: string[];
    body: Buffer;
    complete: boolean;
  }>((resolve, reject) => {
    const req = http.request(`${gw.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {});
      res.on('close', () =>
        resolve({
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          complete: res.complete,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

test("the upstream's Content-Type, Content-Encoding and Cache-Control decide, case-insensitively; a brotli transfer cut upstream is aborted", async () => {
  const answers: Record<string, http.OutgoingHttpHeaders> = {
    '/no-type': {},
    '/octet': { 'content-type': 'application/octet-stream' },
    '/upper-type': { 'content-type': 'TEXT/Plain; Charset=UTF-8' },
    '/identity': { 'content-type': 'text/plain', 'content-encoding': 'identity' },
    '/upper-no-transform': { 'content-type': 'text/plain', 'cache-control': 'Public, No-Transform' },
  };
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      const path = req.url ?? '/';
      if (path === '/cut') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT.length * 2 });
        res.write(TEXT, () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      if (path === '/coded') {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-encoding': 'gzip',
          'content-length': GZIPPED.length,
        });
        res.end(GZIPPED);
        return;
      }
      res.writeHead(200, { ...answers[path], 'content-length': TEXT.length });
      res.end(TEXT);
    }),
  );
  const gw = await keep(compressingGateway(upstream.url));
  for (const [path, expected] of [
    // No type: nothing says it is text.
    ['/no-type', undefined],
    ['/octet', undefined],
    ['/upper-type', 'gzip'],
    // `identity` names no coding: compressed, its field replaced, not doubled.
    ['/identity', 'gzip'],
    ['/upper-no-transform', undefined],
  ] as const) {
    const r = await get(gw, path, { 'accept-encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], expected, path);
    assert.equal(r.headers.vary, 'Accept-Encoding', path);
    const codings = r.rawHeaders.filter(
      (_, i) => i % 2 === 0 && r.rawHeaders[i].toLowerCase() === 'content-encoding',
    );
    assert.equal(codings.length, path === '/identity' || expected !== undefined ? 1 : 0, path);
    if (expected === undefined) {
      assert.equal(r.body.toString(), TEXT, path);
      assert.equal(r.headers['content-length'], String(TEXT.length), path);
    } else assert.equal(zlib.gunzipSync(r.body).toString(), TEXT, path);
  }

  // A body the upstream coded goes as it came, to a client that does not take its coding too:
  // the gateway decodes nothing (the coding is the origin's choice, RFC 9110 §12.5.3).
  for (const accept of ['br', undefined]) {
    const coded = await get(gw, '/coded', accept === undefined ? {} : { 'accept-encoding': accept });
    assert.equal(coded.headers['content-encoding'], 'gzip', String(accept));
    assert.equal(coded.headers['content-length'], String(GZIPPED.length), String(accept));
    assert.equal(coded.headers.vary, 'Accept-Encoding', String(accept));
    assert.deepEqual(coded.body, GZIPPED, String(accept));
  }

  const cut = await get(gw, '/cut', { 'accept-encoding': 'br', 'x-request-id': 'fields-cut' });
  assert.equal(cut.headers['content-encoding'], 'br');
  assert.equal(cut.complete, false, 'no last chunk: the transfer is aborted');
  assert.throws(() => zlib.brotliDecompressSync(cut.body), /unexpected end of file/);
  const line = await gw.logFor('fields-cut');
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.encoding, 'br');
});

test('an ETag that is no entity-tag is left off a compressed answer (its GET, HEAD and 304), not made "W/abc"', async () => {
  // RFC 9110 §8.8.3: an entity-tag is quoted. `W/` before a bare `abc` is no weak tag either, and
  // the field kept as it came would say the compressed body is the identity one.
  const tags: Record<string, string> = { '/bare': 'abc', '/lower-weak': 'w/"abc"', '/quoted': '"abc"' };
  const seen: string[] = [];
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      const path = req.url ?? '/';
      seen.push(`${req.method} ${path}`);
      if (req.headers['if-none-match'] !== undefined) {
        res.writeHead(304, { 'content-type': 'text/plain', etag: tags[path] });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag: tags[path], 'content-length': TEXT.length });
      res.end(req.method === 'HEAD' ? undefined : TEXT);
    }),
  );
  const gw = await keep(compressingGateway(upstream.url));
  for (const [path, expected] of [
    ['/bare', undefined],
    ['/lower-weak', undefined],
    ['/quoted', 'W/"abc"'],
  ] as const) {
    const r = await get(gw, path, { 'accept-encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], 'gzip', path);
    assert.equal(r.headers.etag, expected, path);
    assert.equal(zlib.gunzipSync(r.body).toString(), TEXT, path);
    const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        `${gw.url}${path}`,
        { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    head.resume();
    assert.equal(head.headers['content-encoding'], 'gzip', `HEAD ${path}`);
    assert.equal(head.headers.etag, expected, `HEAD ${path}`);
    const notModified = await get(gw, path, { 'accept-encoding': 'gzip', 'if-none-match': 'W/"abc"' });
    assert.equal(notModified.headers.etag, expected, `304 ${path}`);
    // Without a coding the tag is the upstream's, as it came.
    const plain = await get(gw, path, {});
    assert.equal(plain.headers.etag, tags[path], `identity ${path}`);
    assert.equal(plain.body.toString(), TEXT, `identity ${path}`);
  }
  assert.equal(seen.length, 12);
});
