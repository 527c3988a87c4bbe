/**
 * The Via entry sent upstream names the protocol version the request was received with
 * (RFC 9110 §7.6.3): `2` over HTTP/2, `1.0` for an HTTP/1.0 request, `1.1` otherwise
 * (issue 32, item 5: HTTP/2 requests were sent on as `1.1`). The entry on the answer names the
 * version the answer was received with, whatever the client's: `2` from an HTTP/2 upstream,
 * `1.0` from an HTTP/1.0 one, `1.1` from an HTTP/1.1 one to an HTTP/1.0 client.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const upstream = await keep(startEcho());
// An h2c upstream behind a proxy of its own: its answer carries that proxy's Via.
const h2Upstream = http2.createServer((_req, res) => {
  res.setHeader('via', '1.1 app-proxy');
  res.end('from h2');
});
await new Promise<void>((resolve) => h2Upstream.listen(0, '127.0.0.1', resolve));
await keep({ close: () => new Promise<void>((resolve) => h2Upstream.close(() => resolve())) });
// An HTTP/1.0 upstream: its answer says so in its status line, and its close ends the body.
const http10Upstream = await keep(
  startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfrom 1.0');
  }),
);
const gw = await keep(
  startTestGateway(
    `name: edge-test
routes: [{ match: { path: /h2up }, upstream: h2app }, { match: { path: /h10up }, upstream: app10 }, { upstream: app }]
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
  app10: { targets: [{ url: "${http10Upstream.url}" }] }
  h2app: { protocol: h2c, targets: [{ url: "http://127.0.0.1:${(h2Upstream.address() as AddressInfo).port}" }] }
`,
    {},
    'http2: true',
  ),
);

test('a request received over HTTP/2 reaches the upstream with "Via: 2 edge-test", after the client\'s own', async () => {
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/h2', via: '1.1 cdn' });
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
      let code = 0;
      stream.on('response', (headers) => {
        code = Number(headers[':status']);
      });
      stream.resume();
      stream.on('error', () => {});
      stream.on('close', () => {
        clearTimeout(timer);
        resolve(code);
      });
      stream.end();
    });
    assert.equal(status, 200);
  } finally {
    session.destroy();
  }
  const seen = await upstream.waitForRequest(1);
  assert.equal(seen.path, '/h2');
  assert.equal(seen.headers.via, '1.1 cdn, 2 edge-test');
});

test('an HTTP/1.0 request reaches the upstream with "Via: 1.0 edge-test"; HTTP/1.1 with "1.1 edge-test"', async () => {
  const old = await rawRequest(gw.port, 'GET /h10 HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.equal(old.status, 200);
  const seen10 = await upstream.waitForRequest(2);
  assert.equal(seen10.path, '/h10');
  assert.equal(seen10.headers.via, '1.0 edge-test');
  // The answer came from the upstream over HTTP/1.1: its entry says 1.1, not the client's 1.0.
  assert.match(old.raw, /\r\nvia: 1\.1 edge-test\r\n/i);

  const current = await rawRequest(gw.port, 'GET /h11 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(current.status, 200);
  const seen11 = await upstream.waitForRequest(3);
  assert.equal(seen11.path, '/h11');
  assert.equal(seen11.headers.via, '1.1 edge-test');
});

test('the answer\'s Via names the version it was received with: "2" from an HTTP/2 upstream, "1.1" from an HTTP/1.1 one', async () => {
  const fromH2 = await rawRequest(gw.port, 'GET /h2up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(fromH2.status, 200);
  assert.match(fromH2.raw, /\r\nvia: 1\.1 app-proxy, 2 edge-test\r\n/i);
  // HTTP/2 has no reason phrase: the HTTP/1.1 client gets the standard one (it got "HTTP/1.1 200 ").
  assert.ok(fromH2.raw.startsWith('HTTP/1.1 200 OK\r\n'), fromH2.raw.slice(0, 20));
  const fromH1 = await rawRequest(gw.port, 'GET /h1up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(fromH1.status, 200);
  assert.match(fromH1.raw, /\r\nvia: 1\.1 edge-test\r\n/i);
});

test('the answer of an HTTP/1.0 upstream says "Via: 1.0 edge-test" to an HTTP/1.1 client', async () => {
  const answer = await rawRequest(gw.port, 'GET /h10up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(answer.status, 200);
  assert.match(answer.raw, /\r\nvia: 1\.0 edge-test\r\n/i);
  // Its close ended the body; the HTTP/1.1 client gets it chunked, whole.
  assert.ok(answer.raw.endsWith('\r\n\r\n8\r\nfrom 1.0\r\n0\r\n\r\n'), answer.raw.slice(-40));
});

test("a stored answer goes out with the Via of the version its upstream answered in, not the client's", async () => {
  const h2Cached = http2.createServer((_req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.end('stored from h2');
  });
  await new Promise<void>((resolve) => h2Cached.listen(0, '127.0.0.1', resolve));
  await keep({ close: () => new Promise<void>((resolve) => h2Cached.close(() => resolve())) });
  const app = await keep(
    listenOnLoopback((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('stored from 1.1');
    }),
  );
  const cached = await keep(
    startTestGateway(`name: edge-test
routes: [{ match: { path: /h2up }, upstream: h2app, cache: {} }, { upstream: app, cache: {} }]
upstreams:
  app: { targets: [{ url: "${app.url}" }] }
  h2app: { protocol: h2c, targets: [{ url: "http://127.0.0.1:${(h2Cached.address() as AddressInfo).port}" }] }
`),
  );
  const ask = (path: string, version: string) =>
    rawRequest(cached.port, `GET ${path} HTTP/${version}\r\nHost: a\r\nConnection: close\r\n\r\n`);
  const via = (raw: string) => /\r\nvia: ([^\r]*)/i.exec(raw)?.[1];
  for (const [path, expected] of [
    ['/page', '1.1 edge-test'],
    ['/h2up', '2 edge-test'],
  ]) {
    const miss = await ask(path, '1.0');
    assert.match(miss.raw, /\r\ncache-status: edge-test; fwd=uri-miss\r\n/);
    assert.equal(via(miss.raw), expected);
    for (const version of ['1.0', '1.1']) {
      const hit = await ask(path, version);
      assert.match(hit.raw, /\r\ncache-status: edge-test; hit; ttl=\d+\r\n/);
      assert.equal(via(hit.raw), expected, `a hit to an HTTP/${version} client`);
    }
  }
});
