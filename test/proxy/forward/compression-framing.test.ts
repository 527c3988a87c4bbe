/**
 * routes[].compression and the framing a client reads a compressed body's end by: a compressed
 * body has no Content-Length, so an HTTP/1.0 client reads it to the close (RFC 9112 §6.3: no
 * chunked coding for it), and a cut must reach it as a reset, never the FIN that says the gzip
 * stream is whole; and an HTTP/2 upstream's RST_STREAM mid-body cuts the compressed transfer as an
 * HTTP/1.1 upstream's reset does (no last chunk, no gzip end).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Candor never lies about a failure. '.repeat(60);

/** What a raw client read of `request`: its head, its body bytes, and how the connection ended. */
function raw(port: number, request: string) {
  return new Promise<{ head: string; body: Buffer; ending: string }>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (ending: string) => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, split).toString('latin1'), body: all.subarray(split + 4), ending });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => done('FIN'));
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? String(err)));
    socket.write(request);
  });
}

test('an HTTP/1.0 client: the compressed body is read to the close (no chunked coding), and a cut one ends in a reset', async () => {
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(TEXT);
      if (req.url === '/whole') return res.end(TEXT);
      // The body cut short: the gzip stream must not be finished, nor its close read as its end.
      setTimeout(() => res.socket?.destroy(), 50);
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
  // Keep-alive asked for: a body without a length can only end with the connection.
  const ask = (path: string, id: string) =>
    `GET ${path} HTTP/1.0\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\nX-Request-Id: ${id}\r\n\r\n`;
  const whole = await raw(gw.port, ask('/whole', 'whole-10'));
  assert.match(whole.head, /^HTTP\/1\.1 200 /);
  assert.match(whole.head, /\r\ncontent-encoding: gzip\r\n/i);
  assert.doesNotMatch(whole.head, /transfer-encoding|content-length/i);
  assert.match(whole.head, /\r\nconnection: close(\r\n|$)/i);
  assert.equal(whole.ending, 'FIN');
  assert.equal(zlib.gunzipSync(whole.body).toString(), TEXT + TEXT);

  const cut = await raw(gw.port, ask('/cut', 'cut-10'));
  assert.match(cut.head, /\r\ncontent-encoding: gzip\r\n/i);
  assert.equal(cut.ending, 'ECONNRESET', 'a FIN would say the close-delimited body is whole');
  assert.throws(() => zlib.gunzipSync(cut.body), /unexpected end of file/);
  const line = await gw.logFor('cut-10');
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.encoding, 'gzip');
});

test("an HTTP/2 upstream's RST_STREAM mid-body: the compressed transfer is cut, no last chunk and no gzip end", async () => {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'text/plain', etag: '"h2"' });
    stream.write(TEXT);
    // Destroyed with an error: RST_STREAM INTERNAL_ERROR, never an END_STREAM.
    setTimeout(() => stream.destroy(new Error('cut')), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  keep({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    protocol: h2c
    targets:
      - url: http://127.0.0.1:${(server.address() as AddressInfo).port}
`),
  );
  const r = await raw(
    gw.port,
    'GET /page HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nX-Request-Id: h2-cut\r\n\r\n',
  );
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  assert.match(r.head, /\r\ncontent-encoding: gzip\r\n/i);
  assert.match(r.head, /\r\ntransfer-encoding: chunked(\r\n|$)/i);
  // The chunks that came, never the last (zero-length) chunk that says the body is whole.
  assert.doesNotMatch(r.body.toString('latin1'), /(^|\r\n)0\r\n\r\n$/);
  const chunks: Buffer[] = [];
  for (let rest = r.body; rest.length > 0; ) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.subarray(0, eol).toString(), 16);
    if (!(size > 0) || rest.length < eol + 2 + size) break;
    chunks.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 4 + size);
  }
  assert.throws(() => zlib.gunzipSync(Buffer.concat(chunks)), /unexpected end of file/);
  const line = await gw.logFor('h2-cut');
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.encoding, 'gzip');
});
