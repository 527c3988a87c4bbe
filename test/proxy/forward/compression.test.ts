/**
 * routes[].compression on real sockets: negotiation from Accept-Encoding with q-values, the
 * responses never compressed, a weak ETag and Vary, HTTP/2 alike, server-sent events flushed per
 * event, and an upstream that resets mid-body: the client's transfer is aborted (never a valid
 * compressed end) and the log says http_response_incomplete.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { DOCS_TEXT } from '../../helpers/docs-text.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Candor never lies about a failure. '.repeat(60);
let nextEvent: () => void = () => {};
let nextLine: () => void = () => {};
let nextTick: () => void = () => {};
let nextBody: () => void = () => {};
/** Resolves when the upstream's endless stream is closed (the gateway let go of it). */
let endlessClosed: Promise<void> = Promise.resolve();

const app = () =>
  keep(
    listenOnLoopback((req, res) => {
      const path = req.url ?? '/';
      if (path === '/text') {
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          etag: '"v1"',
          'accept-ranges': 'bytes',
          'content-length': TEXT.length,
        });
        return res.end(req.method === 'HEAD' ? undefined : TEXT);
      }
      if (path === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ text: TEXT }));
      }
      if (path === '/small-chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('sm');
        return res.end('all');
      }
      if (path === '/small') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
        return res.end('small');
      }
      if (path === '/encoded') {
        const body = zlib.gzipSync(TEXT);
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-encoding': 'gzip',
          'content-length': body.length,
        });
        return res.end(body);
      }
      if (path === '/no-transform') {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, no-transform' });
        return res.end(TEXT);
      }
      if (path === '/image') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': TEXT.length });
        return res.end(TEXT);
      }
      if (path === '/reset-content' || path === '/zero-length') {
        // No content: a 205 must have none (RFC 9110 §15.3.6), and an empty body is just that.
        res.writeHead(path === '/reset-content' ? 205 : 200, {
          'content-type': 'text/plain',
          'content-length': 0,
        });
        return res.end();
      }
      if (path === '/empty') {
        res.writeHead(204);
        return res.end();
      }
      if (path === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: one\n\n');
        // The second event only once the client has read the first: proof it was flushed.
        nextEvent = () => res.end('data: two\n\n');
        return;
      }
      if (path === '/lines') {
        // A stream of lines that is not server-sent events: the next line only once the client
        // has read the one before (proof that what came was flushed, not kept in the compressor).
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(`${JSON.stringify({ line: 1, text: TEXT })}\n`);
        nextLine = () => res.end(`${JSON.stringify({ line: 2 })}\n`);
        return;
      }
      if (path === '/endless') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write(TEXT), 10);
        endlessClosed = new Promise((resolve) =>
          res.on('close', () => {
            clearInterval(timer);
            resolve();
          }),
        );
        return;
      }
      if (path === '/head-first') {
        // The head alone (a long poll's, a stream's that says it is there), its body only once
        // the client has the head.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.flushHeaders();
        nextBody = () => res.end(`${JSON.stringify({ text: TEXT })}\n`);
        return;
      }
      if (path === '/ticks') {
        // A stream of small lines (a progress feed): under min_size for as long as it runs.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write('{"tick":1}\n');
        nextTick = () => res.end(`{"tick":2,"text":"${TEXT}"}\n`);
        return;
      }
      if (path === '/digest') {
        // RFC 9530: digests of the identity content and representation, untrue of a compressed one.
        const sha = `sha-256=:${createHash('sha256').update(TEXT).digest('base64')}:`;
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-length': TEXT.length,
          'content-digest': sha,
          'repr-digest': sha,
        });
        return res.end(TEXT);
      }
      if (path === '/vary-split') {
        // One list over two fields (RFC 9110 §5.3): the second already says Accept-Encoding.
        res.setHeader('vary', ['Origin', 'Accept-Encoding']);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT.length });
        return res.end(TEXT);
      }
      const varies: Record<string, string> = {
        '/vary-origin': 'Origin',
        '/vary-star': '*',
        '/vary-said': 'origin, accept-encoding',
        '/vary-empty': '',
        '/vary-comma': 'Origin, ',
      };
      if (path in varies) {
        const vary = varies[path];
        res.writeHead(200, { 'content-type': 'text/plain', vary, 'content-length': TEXT.length });
        return res.end(TEXT);
      }
      if (path === '/not-modified') {
        res.writeHead(304, { 'content-type': 'text/plain', etag: '"v1"' });
        return res.end();
      }
      if (path === '/partial') {
        // A 206 to a request that sent no Range (an If-Range the origin honoured, say): still a part.
        const part = TEXT.slice(0, 1500);
        res.writeHead(206, {
          'content-type': 'text/plain',
          'content-range': `bytes 0-1499/${TEXT.length}`,
          'content-length': part.length,
        });
        return res.end(part);
      }
      if (path === '/short') {
        // Announces twice what it sends, then closes cleanly (a FIN, not a reset).
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT.length * 2 });
        res.write(TEXT, () => setTimeout(() => res.socket?.end(), 20));
        return;
      }
      if (path === '/held-reset') {
        // No Content-Length and less than min_size before the reset: the head is still held.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('held', () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      if (path === '/reset') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(TEXT);
        res.write(TEXT, () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      res.writeHead(404);
      res.end();
    }),
  );

interface Got {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly aborted: boolean;
}

function get(gw: TestGateway, path: string, headers: http.OutgoingHttpHeaders, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => {
        aborted = true;
      });
      res.on('error', () => {
        aborted = true;
      });
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          aborted: aborted || !res.complete,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const decode: Record<string, (b: Buffer) => Buffer> = {
  gzip: zlib.gunzipSync,
  br: zlib.brotliDecompressSync,
  zstd: (b) => zlib.zstdDecompressSync(b),
};

describe('routes[].compression', () => {
  let gw: TestGateway;
  test('setup', async () => {
    const upstream = await app();
    gw = await keep(
      startTestGateway(`name: edge-1
routes:
  - match: { path: /zstd }
    upstream: app
    strip_prefix: true
    compression: { encodings: [zstd, gzip] }
  - match: { path: /any-size }
    upstream: app
    strip_prefix: true
    compression: { min_size: 0 }
  - match: { path: / }
    upstream: app
    compression: { min_size: 100 }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
    );
  });

  for (const [accept, expected] of [
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['*', 'br'],
    ['x-gzip', 'gzip'],
    ['identity;q=0.5, gzip', 'gzip'],
  ] as const) {
    test(`Accept-Encoding: ${accept} → ${expected}, Vary, a weak ETag, the log's bytes before and after`, async () => {
      const id = `ce-${accept.replace(/\W+/g, '-')}`;
      const r = await get(gw, '/text', { 'accept-encoding': accept, 'x-request-id': id });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], expected);
      assert.equal(r.headers.vary, 'Accept-Encoding');
      assert.equal(r.headers.etag, 'W/"v1"');
      assert.equal(r.headers['content-length'], undefined);
      assert.equal(r.headers['accept-ranges'], undefined, 'ranges are of the identity body');
      assert.equal(decode[expected](r.body).toString(), TEXT);
      const line = await gw.logFor(id);
      assert.equal(line.encoding, expected);
      assert.equal(line.encoded_from, TEXT.length);
      assert.equal(line.encoded_to, r.body.length);
      assert.ok(r.body.length < TEXT.length);
    });
  }

  for (const [name, path, status] of [
    ['a 205', '/any-size/reset-content', 205],
    ['a body of Content-Length 0', '/any-size/zero-length', 200],
  ] as const) {
    test(`no content stays none, even with min_size 0: ${name}`, async () => {
      const r = await get(gw, path, { 'accept-encoding': 'gzip' });
      assert.equal(r.status, status);
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(r.headers.vary, 'Accept-Encoding');
      assert.equal(r.body.length, 0);
    });
  }

  test('zstd where the route offers it first', async () => {
    const r = await get(gw, '/zstd/text', { 'accept-encoding': 'gzip, zstd' });
    assert.equal(r.headers['content-encoding'], 'zstd');
    assert.equal(decode.zstd(r.body).toString(), TEXT);
  });

  test("each coding's stream is made with a bounded window: brotli 64 KiB, zstd 128 KiB (its memory does not grow with the writes)", async () => {
    const br = await get(gw, '/text', { 'accept-encoding': 'br' });
    assert.equal(br.headers['content-encoding'], 'br');
    // RFC 7932 §9.1: the stream's first bit 0 says WBITS 16; 1 is followed by a larger one.
    assert.equal(br.body[0] & 1, 0, `brotli window: first byte 0x${br.body[0].toString(16)}`);
    assert.equal(decode.br(br.body).toString(), TEXT);
    const zstd = await get(gw, '/zstd/chunked', { 'accept-encoding': 'zstd' });
    assert.equal(zstd.headers['content-encoding'], 'zstd');
    // RFC 8878 §3.1.1.1: after the magic number, the frame header's descriptor; without the
    // single-segment flag (a stream of unknown size) the window descriptor follows: 10 + its
    // exponent is the window's log.
    assert.equal(zstd.body.readUInt32LE(0), 0xfd2fb528);
    assert.equal(zstd.body[4] & 0x20, 0, 'not a single segment');
    assert.equal(10 + (zstd.body[5] >> 3), 17, `zstd window descriptor 0x${zstd.body[5].toString(16)}`);
    assert.equal(zstd.body[5] & 7, 0);
  });

  test('a body without Content-Length is compressed as it streams', async () => {
    const r = await get(gw, '/chunked', { 'accept-encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(JSON.parse(zlib.gunzipSync(r.body).toString()).text, TEXT);
  });

  for (const [name, path, headers, method] of [
    ['no Accept-Encoding', '/text', {}, 'GET'],
    ['*;q=0', '/text', { 'accept-encoding': '*;q=0' }, 'GET'],
    // Identity refused and no coding accepted: the body as it is (RFC 9110 §12.5.3), not a 406.
    ['identity;q=0 alone', '/text', { 'accept-encoding': 'identity;q=0' }, 'GET'],
    [
      'identity preferred to every coding',
      '/text',
      { 'accept-encoding': 'br;q=0.2, gzip;q=0.5, identity' },
      'GET',
    ],
    [
      'identity preferred through * (every coding named lower)',
      '/text',
      { 'accept-encoding': 'br;q=0.2, gzip;q=0.5, *;q=0.9' },
      'GET',
    ],
    [
      'the request says Cache-Control: no-transform',
      '/text',
      { 'accept-encoding': 'gzip', 'cache-control': 'max-age=0, no-transform' },
      'GET',
    ],
    ['a Range request', '/text', { 'accept-encoding': 'gzip', range: 'bytes=0-9' }, 'GET'],
    ['a body under min_size', '/small', { 'accept-encoding': 'gzip' }, 'GET'],
    [
      'a body without Content-Length that ends under min_size',
      '/small-chunked',
      { 'accept-encoding': 'gzip' },
      'GET',
    ],
    ['an already encoded body', '/encoded', { 'accept-encoding': 'br, gzip' }, 'GET'],
    ['Cache-Control: no-transform', '/no-transform', { 'accept-encoding': 'gzip' }, 'GET'],
    ['a media type not listed', '/image', { 'accept-encoding': 'gzip' }, 'GET'],
    ['a 204', '/empty', { 'accept-encoding': 'gzip' }, 'GET'],
    ['a 304', '/not-modified', { 'accept-encoding': 'gzip', 'if-none-match': '"v1"' }, 'GET'],
    ['a 206 (to a request without Range)', '/partial', { 'accept-encoding': 'gzip' }, 'GET'],
  ] as const) {
    test(`not compressed: ${name} (Vary still says Accept-Encoding)`, async () => {
      const r = await get(gw, path, headers, method);
      assert.equal(r.headers.vary, 'Accept-Encoding');
      if (path === '/encoded') {
        assert.equal(r.headers['content-encoding'], 'gzip');
        assert.equal(zlib.gunzipSync(r.body).toString(), TEXT);
        return;
      }
      assert.equal(r.headers['content-encoding'], undefined);
      if (path === '/small-chunked') assert.equal(r.body.toString(), 'small');
      if (path === '/not-modified') {
        assert.equal(r.status, 304);
        // RFC 9110 §15.4.5: the ETag its 200 would have had, and that 200 was compressed.
        assert.equal(r.headers.etag, 'W/"v1"', "a 304 carries the compressed 200's weak ETag");
      }
      if (path === '/partial') {
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-range'], `bytes 0-1499/${TEXT.length}`);
        assert.equal(r.body.toString(), TEXT.slice(0, 1500));
      }
      if (path === '/text' && method === 'GET') {
        assert.equal(r.headers.etag, '"v1"');
        assert.equal(r.headers['accept-ranges'], 'bytes');
        assert.equal(r.body.toString(), TEXT);
      }
    });
  }

  for (const [path, expected] of [
    ['/vary-origin', 'Origin, Accept-Encoding'],
    ['/vary-star', '*'],
    ['/vary-said', 'origin, accept-encoding'],
    ['/vary-split', 'Origin, Accept-Encoding'],
    // No empty list member made here (RFC 9110 §5.6.1).
    ['/vary-empty', 'Accept-Encoding'],
    ['/vary-comma', 'Origin, Accept-Encoding'],
  ] as const) {
    test(`the upstream's Vary (${path}) gets Accept-Encoding beside it once, compressed or not: ${expected}`, async () => {
      for (const accept of ['gzip', '']) {
        const r = await get(gw, path, accept ? { 'accept-encoding': accept } : {});
        assert.equal(r.headers['content-encoding'], accept || undefined);
        assert.equal(r.headers.vary, expected);
      }
    });
  }

  test("a compressed answer drops the upstream's Content-Digest and Repr-Digest (of the identity bytes); an identity one keeps them", async () => {
    const compressed = await get(gw, '/digest', { 'accept-encoding': 'gzip' });
    assert.equal(compressed.headers['content-encoding'], 'gzip');
    assert.equal(compressed.headers['content-digest'], undefined);
    assert.equal(compressed.headers['repr-digest'], undefined);
    const identity = await get(gw, '/digest', {});
    const sha = `sha-256=:${createHash('sha256').update(identity.body).digest('base64')}:`;
    assert.equal(identity.headers['content-digest'], sha);
    assert.equal(identity.headers['repr-digest'], sha);
  });

  test('a 304 to a client that takes no coding keeps its strong ETag, as its 200 would have', async () => {
    const r = await get(gw, '/not-modified', { 'if-none-match': '"v1"' });
    assert.equal(r.status, 304);
    assert.equal(r.headers.etag, '"v1"');
    assert.equal(r.headers.vary, 'Accept-Encoding');
  });

  test('HTTP/2 downstream: compressed the same way', async () => {
    const h2gw = await keep(
      startTestGateway(
        `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${(await app()).url}\n`,
        {},
        'http2: true',
      ),
    );
    const session = http2.connect(h2gw.url);
    const { headers, body } = await new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        const stream = session.request({ ':path': '/text', 'accept-encoding': 'gzip' });
        const chunks: Buffer[] = [];
        let headers: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => {
          headers = h;
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
      },
    );
    session.close();
    assert.equal(headers[':status'], 200);
    assert.equal(headers['content-encoding'], 'gzip');
    assert.equal(headers.vary, 'Accept-Encoding');
    assert.equal(zlib.gunzipSync(body).toString(), TEXT);
  });

  test('HTTP/2 downstream, an upstream reset mid-body: RST_STREAM, never a valid gzip end; logged http_response_incomplete', async () => {
    const h2gw = await keep(
      startTestGateway(
        `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${(await app()).url}\n`,
        {},
        'http2: true',
      ),
    );
    const session = http2.connect(h2gw.url);
    session.on('error', () => {});
    const got = await new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; rstCode: number }>(
      (resolve) => {
        const stream = session.request({
          ':path': '/reset',
          'accept-encoding': 'gzip',
          'x-request-id': 'ce-h2-reset',
        });
        const chunks: Buffer[] = [];
        let headers: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => {
          headers = h;
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', () => {});
        stream.on('close', () =>
          resolve({ headers, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? 0 }),
        );
      },
    );
    session.close();
    assert.equal(got.headers[':status'], 200);
    assert.equal(got.headers['content-encoding'], 'gzip');
    assert.notEqual(got.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the stream is reset, not ended');
    assert.throws(() => zlib.gunzipSync(got.body), /unexpected end of file/);
    const line = await h2gw.logFor('ce-h2-reset');
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.encoding, 'gzip');
  });

  test('server-sent events: each event reaches the client as it is sent', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${gw.url}/events`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const gunzip = zlib.createGunzip();
        let seen = '';
        gunzip.on('data', (c: Buffer) => {
          seen += c.toString();
          // The upstream holds the second event until the first has been read here.
          if (seen === 'data: one\n\n') nextEvent();
        });
        gunzip.on('end', () => resolve(seen));
        gunzip.on('error', reject);
        res.pipe(gunzip);
      });
      req.on('error', reject);
    });
    assert.equal(text, 'data: one\n\ndata: two\n\n');
  });

  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    test(`a stream that is not server-sent events (${coding}): what the upstream sent reaches the client before it sends more`, async () => {
      const text = await new Promise<string>((resolve, reject) => {
        const path = coding === 'zstd' ? '/zstd/lines' : '/lines';
        const req = http.get(`${gw.url}${path}`, { headers: { 'accept-encoding': coding } }, (res) => {
          assert.equal(res.headers['content-encoding'], coding);
          const decoder =
            coding === 'gzip'
              ? zlib.createGunzip()
              : coding === 'br'
                ? zlib.createBrotliDecompress()
                : zlib.createZstdDecompress();
          let seen = '';
          decoder.on('data', (c: Buffer) => {
            seen += c.toString();
            // The upstream holds its second line until the first has been read here: kept in
            // the compressor's buffers, the first never came, and neither did the second.
            if (seen.endsWith('\n') && !seen.includes('"line":2')) nextLine();
          });
          decoder.on('end', () => resolve(seen));
          decoder.on('error', reject);
          res.pipe(decoder);
        });
        req.on('error', reject);
      });
      assert.deepEqual(
        text
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).line),
        [1, 2],
      );
    });
  }

  test('a head that comes alone is not held for its body: it goes at once, compressed, and the body after it', async () => {
    const r = await new Promise<Got>((resolve, reject) => {
      const req = http.get(
        `${gw.url}/head-first`,
        { headers: { 'accept-encoding': 'gzip', 'x-request-id': 'ce-head-first' } },
        (res) => {
          // The upstream sends its body once this head is here: held for the body, it never came.
          nextBody();
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              aborted: false,
            }),
          );
        },
      );
      req.on('error', reject);
    });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers.vary, 'Accept-Encoding');
    assert.equal(JSON.parse(zlib.gunzipSync(r.body).toString()).text, TEXT);
    assert.equal((await gw.logFor('ce-head-first')).encoding, 'gzip');
  });

  test('a stream whose first read is under min_size is not held for more: it goes as it is, and the rest after it', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${gw.url}/ticks`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        assert.equal(res.headers['content-encoding'], undefined);
        assert.equal(res.headers.vary, 'Accept-Encoding');
        let seen = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          seen += c;
          // The upstream sends its next line once the first was read here: held until min_size,
          // the first never came (nor the head).
          if (seen === '{"tick":1}\n') nextTick();
        });
        res.on('end', () => resolve(seen));
      });
      req.on('error', reject);
    });
    assert.equal(text, `{"tick":1}\n{"tick":2,"text":"${TEXT}"}\n`);
  });

  test('a client that leaves mid-body (HTTP/1.1): the upstream is let go, logged client_closed with the encoding', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        `${gw.url}/endless`,
        { headers: { 'accept-encoding': 'gzip', 'x-request-id': 'ce-leave-h1' } },
        (res) => {
          const gunzip = zlib.createGunzip();
          gunzip.on('error', () => {});
          gunzip.once('data', () => {
            req.destroy();
            resolve();
          });
          res.pipe(gunzip);
        },
      );
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });
    await endlessClosed;
    const line = await gw.logFor('ce-leave-h1');
    assert.equal(line.status, 200);
    assert.equal(line.error, 'client_closed');
    assert.equal(line.encoding, 'gzip');
  });

  test('a client that cancels its stream mid-body (HTTP/2): the upstream is let go, logged client_closed', async () => {
    const h2gw = await keep(
      startTestGateway(
        `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${(await app()).url}\n`,
        {},
        'http2: true',
      ),
    );
    const session = http2.connect(h2gw.url);
    await new Promise<void>((resolve) => {
      const stream = session.request({
        ':path': '/endless',
        'accept-encoding': 'br',
        'x-request-id': 'ce-leave-h2',
      });
      const decoder = zlib.createBrotliDecompress();
      // Cut short on purpose: the decoder's "unexpected end of file" is the point.
      decoder.on('error', () => {});
      decoder.once('data', () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        resolve();
      });
      stream.on('error', () => {});
      stream.pipe(decoder);
    });
    await endlessClosed;
    session.close();
    const line = await h2gw.logFor('ce-leave-h2');
    assert.equal(line.error, 'client_closed');
    assert.equal(line.encoding, 'br');
  });

  test('an upstream reset mid-body: the transfer is aborted, not a valid gzip end; logged http_response_incomplete', async () => {
    const r = await get(gw, '/reset', { 'accept-encoding': 'gzip', 'x-request-id': 'ce-reset' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.aborted, true);
    assert.throws(() => zlib.gunzipSync(r.body), /unexpected end of file/);
    const line = await gw.logFor('ce-reset');
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.encoding, 'gzip');
  });

  test('an upstream that closes before its Content-Length: aborted, never a valid gzip end; logged http_response_incomplete', async () => {
    const r = await get(gw, '/short', { 'accept-encoding': 'gzip', 'x-request-id': 'ce-short' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.aborted, true);
    assert.throws(() => zlib.gunzipSync(r.body), /unexpected end of file/);
    const line = await gw.logFor('ce-short');
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.encoding, 'gzip');
    assert.equal(line.encoded_from, TEXT.length);
  });

  test('an upstream reset while the head is held under min_size: the head and bytes as they came, then the cut', async () => {
    const r = await get(gw, '/held-reset', { 'accept-encoding': 'gzip', 'x-request-id': 'ce-held' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.headers.vary, 'Accept-Encoding');
    assert.equal(r.body.toString(), 'held');
    assert.equal(r.aborted, true);
    const line = await gw.logFor('ce-held');
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.status, 200);
    assert.equal(line.encoding, undefined);
  });
});

test('a route with a cache: a stored answer is compressed for a client that accepts it, with Vary, like a fetched one', async () => {
  let fetched = 0;
  const upstream = await keep(
    listenOnLoopback((_req, res) => {
      fetched++;
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': TEXT.length,
        'cache-control': 'max-age=60',
        etag: '"c1"',
      });
      res.end(TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    cache: {}
    compression: {}
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
  );
  const miss = await get(gw, '/page', { 'accept-encoding': 'gzip' });
  assert.equal(miss.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(miss.body).toString(), TEXT);
  const hit = await get(gw, '/page', { 'accept-encoding': 'br', 'x-request-id': 'ce-hit' });
  assert.equal(fetched, 1, 'the second answer is the stored one');
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
  assert.equal(hit.headers['content-encoding'], 'br');
  assert.equal(hit.headers.vary, 'Accept-Encoding');
  assert.equal(hit.headers.etag, 'W/"c1"');
  assert.equal(hit.headers['content-length'], undefined);
  assert.equal(zlib.brotliDecompressSync(hit.body).toString(), TEXT);
  const line = await gw.logFor('ce-hit');
  assert.equal(line.cache, 'hit');
  assert.equal(line.encoding, 'br');
  assert.equal(line.encoded_from, TEXT.length);
  assert.equal(line.encoded_to, hit.body.length);
  const identity = await get(gw, '/page', {});
  assert.equal(fetched, 1);
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.equal(identity.headers.vary, 'Accept-Encoding');
  assert.equal(identity.headers.etag, '"c1"');
  assert.equal(identity.body.toString(), TEXT);
  // The cache's own 304 to a client holding the compressed copy's weak tag, which now takes no
  // coding: weak still (a strong one would be taken for that copy's, see compression-not-modified).
  const held = await get(gw, '/page', { 'if-none-match': 'W/"c1"' });
  assert.equal(held.status, 304);
  assert.equal(held.headers.etag, 'W/"c1"');
  assert.equal((await get(gw, '/page', { 'if-none-match': '"c1"' })).headers.etag, '"c1"');
  // The cache's own 206, 416 and 412 from the stored answer (only-if-cached meets the Range and
  // If-Match): never compressed, and Vary says so of them as of every answer of the route.
  const cached = { 'accept-encoding': 'gzip', 'cache-control': 'only-if-cached' };
  for (const [status, headers] of [
    [206, { ...cached, range: 'bytes=0-9' }],
    [416, { ...cached, range: `bytes=${TEXT.length}-` }],
    [412, { ...cached, 'if-match': '"other"' }],
  ] as const) {
    const made = await get(gw, '/page', headers);
    assert.equal(made.status, status);
    assert.equal(made.headers['content-encoding'], undefined);
    assert.equal(made.headers.vary, 'Accept-Encoding', `${status}`);
  }
  assert.equal(fetched, 1);
});

test('routes[].compression: a coding Candor does not offer, a repeated one or a media type that is not one is a config error', () => {
  const yaml = (compression: string) =>
    `listen: [{ address: 127.0.0.1:0 }]\nroutes:\n  - match: { path: / }\n    upstream: a\n    compression: ${compression}\nupstreams: { a: { targets: [{ url: http://127.0.0.1:1 }] } }\n`;
  for (const [compression, path, message] of [
    ['{ encodings: [deflate] }', 'routes[0].compression.encodings[0]', /one of zstd, br, gzip/],
    ['{ encodings: [gzip, gzip] }', 'routes[0].compression.encodings', /each once/],
    ['{ types: [text] }', 'routes[0].compression.types[0]', /a media type like text\/html or text\/\*/],
  ] as const) {
    assert.throws(
      () => parseConfig(yaml(compression), '<test>', {}),
      (err: unknown) =>
        err instanceof ConfigError && err.problems.some((p) => p.path === path && message.test(p.message)),
      compression,
    );
  }
  const defaults = parseConfig(yaml('{}'), '<test>', {}).routes[0].compression;
  assert.deepEqual(
    defaults?.encodings,
    ['br', 'gzip'],
    'zstd is off the default list while Node calls it experimental',
  );
  assert.equal(defaults?.minSize, 1024);
  // …and the config reference says why.
  const row = DOCS_TEXT.split('\n').find((line) => line.startsWith('| `routes[].compression.encodings` |'));
  assert.match(row ?? '', /\| `\[br, gzip\]` \|.*\*\*zstd is experimental in Node 24\*\*/);
});
