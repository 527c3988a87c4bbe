/**
 * routes[].compression's negotiation on real sockets (RFC 9110 §12.5.3): what each client's
 * Accept-Encoding gets from a route that offers `[br, gzip]`, the default, through a real
 * gateway and a real origin. Coding names and the `q` parameter are case-insensitive; a client
 * that refuses every coding offered, identity too, still gets the body as it is (a proxy has no
 * other representation to send); a `q` that is not a qvalue (§12.4.2: 0 to 1, at most three
 * decimals) refuses its coding, as an unreadable preference is not a yes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Accept-Encoding decides the coding. '.repeat(60);

function get(gw: TestGateway, accept: string | undefined) {
  const headers = accept === undefined ? {} : { 'accept-encoding': accept };
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
    (resolve, reject) => {
      const req = http.request(`${gw.url}/text`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

const decode: Record<string, (b: Buffer) => Buffer> = {
  gzip: zlib.gunzipSync,
  br: zlib.brotliDecompressSync,
};

test('Accept-Encoding, field by field: the coding each client gets from a route offering [br, gzip]', async () => {
  const upstream = await keep(
    listenOnLoopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT.length, etag: '"n1"' });
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
  for (const [accept, expected] of [
    // No field: no coding (the usual reading; RFC 9110 allows any, a proxy sends none unasked).
    [undefined, undefined],
    // An empty field: identity only (RFC 9110 §12.5.3).
    ['', undefined],
    ['gzip;q=0', undefined],
    ['gzip;q=0, *', 'br'],
    ['*;q=0', undefined],
    ['identity;q=0', undefined],
    ['identity;q=0, *;q=0', undefined],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['GZIP', 'gzip'],
    ['Br;Q=0.5, GZip;Q=0.8', 'gzip'],
    ['x-gzip', 'gzip'],
    ['X-GZIP', 'gzip'],
    ['gzip;q=0.001', 'gzip'],
    ['gzip;q=1.000', 'gzip'],
    // Not qvalues: the coding is refused, never taken at a weight guessed for it.
    ['gzip;q=abc', undefined],
    ['br;q=abc, gzip', 'gzip'],
    ['gzip;q=2', undefined],
    ['br;q=2, gzip', 'gzip'],
    ['br;q=1.5, gzip;q=0.1', 'gzip'],
    ['br;q=0x1, gzip;q=0.1', 'gzip'],
    ['br;q=-1, gzip;q=0.1', 'gzip'],
    ['br;q=0.5000, gzip;q=0.1', 'gzip'],
    ['br;q=, gzip;q=0.1', 'gzip'],
  ] as const) {
    const what = `Accept-Encoding: ${accept === undefined ? '(none)' : JSON.stringify(accept)}`;
    const r = await get(gw, accept);
    assert.equal(r.status, 200, what);
    assert.equal(r.headers['content-encoding'], expected, what);
    assert.equal(r.headers.vary, 'Accept-Encoding', what);
    if (expected === undefined) {
      // The upstream's identity body, with its own length and strong validator.
      assert.equal(r.body.toString(), TEXT, what);
      assert.equal(r.headers['content-length'], String(TEXT.length), what);
      assert.equal(r.headers.etag, '"n1"', what);
    } else {
      assert.equal(decode[expected](r.body).toString(), TEXT, what);
      assert.equal(r.headers.etag, 'W/"n1"', what);
    }
  }
});
