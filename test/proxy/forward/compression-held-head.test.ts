/**
 * routes[].compression over HTTP/2, a head larger than the client's SETTINGS_MAX_HEADER_LIST_SIZE
 * on an answer without Content-Length (the one whose head the compressing sink holds until its
 * body tells whether to compress): the gateway's 502 says so and the log too, as on a route
 * without compression; one that only its compressed form makes too large goes at once as it is.
 * The held head was refused only at the turn's end, after the exchange had moved on: the client's
 * stream was reset bare, and the log said 200 with no error.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Candor never lies about a failure. '.repeat(60);

test("a held head (no Content-Length) larger than an HTTP/2 client takes: the gateway's 502 and a log that says so", async () => {
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      // No Content-Length: the compressing sink holds the head until the body says its size.
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(req.url === '/big' ? { 'x-big': 'b'.repeat(3_000) } : {}),
      });
      res.end(TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(
      `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\n`,
      {},
      'http2: true',
    ),
  );
  const connect = async (maxHeaderListSize: number) => {
    const session = http2.connect(gw.url, { settings: { maxHeaderListSize } });
    session.on('error', () => {});
    await new Promise((resolve) => session.once('localSettings', resolve));
    return session;
  };
  const session = await connect(1_500);
  const get = (path: string, id: string, on = session) =>
    new Promise<{ headers: IncomingHttpHeaders; body: Buffer; rstCode: number }>((resolve) => {
      const stream = on.request({ ':path': path, 'accept-encoding': 'gzip', 'x-request-id': id });
      const chunks: Buffer[] = [];
      let headers: IncomingHttpHeaders = {};
      stream.on('response', (h) => {
        headers = h;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => {});
      stream.on('close', () =>
        resolve({ headers, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? 0 }),
      );
    });
  try {
    const big = await get('/big', 'held-too-big');
    assert.equal(big.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'an answer, not a bare reset');
    assert.equal(big.headers[':status'], 502);
    assert.match(String(big.headers['proxy-status']), /error=http_response_header_section_size/);
    const line = await gw.logFor('held-too-big');
    assert.equal(line.status, 502);
    assert.equal(line.error, 'client_header_list_size');
    // A head that fits is held and compressed as ever, on the same connection.
    const small = await get('/small', 'held-fits');
    assert.equal(small.headers[':status'], 200);
    assert.equal(small.headers['content-encoding'], 'gzip');
    assert.equal((await gw.logFor('held-fits')).encoding, 'gzip');
    // A client that takes the head as it is (the size the 502 named) but not compressed (with its
    // Content-Encoding): it goes at once as it is, a 200, not held to be refused later.
    const size = Number(/is ([0-9]+) bytes/.exec(String(big.headers['proxy-status']))?.[1]);
    const roomy = await connect(size + 10);
    try {
      const identity = await get('/big', 'held-as-is', roomy);
      assert.equal(identity.headers[':status'], 200);
      assert.equal(identity.headers['content-encoding'], undefined);
      assert.equal(identity.body.toString(), TEXT);
      assert.equal((await gw.logFor('held-as-is')).encoding, undefined);
    } finally {
      roomy.destroy();
    }
  } finally {
    session.destroy();
  }
});
