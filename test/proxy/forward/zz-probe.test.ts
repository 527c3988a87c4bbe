import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = 'Candor never lies about a failure. '.repeat(60);
let upstreamClosed: Promise<void> = Promise.resolve();

test('probes', async () => {
  const app = await keep(
    listenOnLoopback((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write(TEXT), 20);
        upstreamClosed = new Promise((resolve) => res.on('close', () => { clearInterval(timer); resolve(); }));
        return;
      }
      if (req.url === '/304') {
        res.writeHead(304, { etag: '"v1"' });
        return res.end();
      }
      if (req.url === '/trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
        res.write(TEXT);
        res.addTrailers({ 'x-sum': 'abc' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' });
      res.end(TEXT);
    }),
  );
  const gw = await keep(
    startTestGateway(
      `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${app.url}\n`,
      {},
      'http2: true',
    ),
  );
  // 1. HTTP/1.1 client leaves mid-body
  await new Promise<void>((resolve) => {
    const req = http.get(`${gw.url}/stream`, { headers: { 'accept-encoding': 'gzip', 'x-request-id': 'leave1' } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; if (n > 2000) { req.destroy(); resolve(); } });
    });
    req.on('error', () => {});
  });
  await upstreamClosed;
  const l1 = await gw.logFor('leave1');
  console.log('h1 leave', JSON.stringify(l1));
  // 2. HTTP/2 client cancels
  const session = http2.connect(gw.url);
  await new Promise<void>((resolve) => {
    const s = session.request({ ':path': '/stream', 'accept-encoding': 'gzip', 'x-request-id': 'leave2' });
    let n = 0;
    s.on('data', (c) => { n += c.length; if (n > 2000) { s.close(http2.constants.NGHTTP2_CANCEL); resolve(); } });
    s.on('error', () => {});
  });
  await upstreamClosed;
  const l2 = await gw.logFor('leave2');
  console.log('h2 leave', JSON.stringify(l2));
  session.close();
  // 3. HTTP/1.0
  const raw = await new Promise<Buffer>((resolve) => {
    const s = net.connect(gw.port, '127.0.0.1', () => s.write('GET /text HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n'));
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
  const sep = raw.indexOf('\r\n\r\n');
  console.log('h1.0 head', raw.subarray(0, sep).toString());
  try { console.log('h1.0 body ok', zlib.gunzipSync(raw.subarray(sep + 4)).toString() === TEXT); } catch (e) { console.log('h1.0 body bad', (e as Error).message, raw.subarray(sep+4, sep+40)); }
  // 4. 304
  const r304 = await fetch(`${gw.url}/304`, { headers: { 'accept-encoding': 'gzip', 'if-none-match': 'W/"v1"' } });
  console.log('304', r304.status, r304.headers.get('etag'), r304.headers.get('vary'));
  // 5. request no-transform
  const nt = await new Promise<http.IncomingMessage>((resolve) => http.get(`${gw.url}/text`, { headers: { 'accept-encoding': 'gzip', 'cache-control': 'no-transform' } }, resolve));
  console.log('req no-transform', nt.headers['content-encoding']); nt.resume();
  // 6. identity preferred
  const idp = await new Promise<http.IncomingMessage>((resolve) => http.get(`${gw.url}/text`, { headers: { 'accept-encoding': 'gzip;q=0.1, identity' } }, resolve));
  console.log('identity preferred', idp.headers['content-encoding']); idp.resume();
  // 7. trailers
  const tr = await new Promise<{ t: NodeJS.Dict<string>; body: Buffer; h: http.IncomingHttpHeaders }>((resolve) => http.get(`${gw.url}/trailers`, { headers: { 'accept-encoding': 'gzip', te: 'trailers' } }, (res) => {
    const chunks: Buffer[] = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve({ t: res.trailers, body: Buffer.concat(chunks), h: res.headers }));
  }));
  console.log('trailers', JSON.stringify(tr.t), tr.h['content-encoding'], zlib.gunzipSync(tr.body).toString() === TEXT);
  assert.ok(true);
});
