/**
 * A body the upstream cuts after its head, as Chromium meets it through the gateway over TLS:
 * HTTP/2 (ALPN h2) and HTTP/1.1. The status was sent (a 200), so the gateway cannot change it;
 * what it must not do is end the transfer as if whole (DESIGN: "the downstream transfer is
 * aborted, never finished as if whole"). The browser then says so itself: its fetch's body read
 * rejects, and a page's load fails with the framing error of its protocol, never a short page.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { launchChromium, noChromium } from '../helpers/chromium.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../helpers/test-gateway.ts';

/** An upstream that sends a head and part of its body, then closes: by Content-Length, or chunked. */
function startCutter(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (bytes) => {
      head += bytes.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.slice(head.indexOf(' ') + 1, head.indexOf(' ', head.indexOf(' ') + 1));
      head = '';
      const part = 'x'.repeat(200_000);
      if (path.startsWith('/whole'))
        return void socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok`,
        );
      socket.write(
        path.startsWith('/length')
          ? `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000000\r\n\r\n${part}`
          : `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n${part.length.toString(16)}\r\n${part}\r\n`,
      );
      // Its bytes out first, then the close: the gateway has sent the head and some of the body.
      socket.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let upstream: net.Server;
let gw: TestGateway;
let browser: BrowserContext;
let h2Port: number;
let h1Port: number;

before(async () => {
  if (noChromium) return;
  upstream = await startCutter();
  const certs = testCertificates();
  const tls = `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }`;
  gw = await startGatewayFromText(`listen:
  - { address: 127.0.0.1:0, http2: true, ${tls} }
  - { address: 127.0.0.1:0, ${tls} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}" }]
`);
  [h2Port, h1Port] = gw.gateway.listeners.map((listener) => listener.port());
  browser = await launchChromium(join(tempDir('candor-cut-'), 'profile'), undefined, true);
});

after(async () => {
  await browser?.close();
  await gw?.close();
  upstream?.close();
});

for (const [protocol, expected] of [
  ['h2', { length: 'ERR_HTTP2_PROTOCOL_ERROR', chunked: 'ERR_HTTP2_PROTOCOL_ERROR' }],
  ['http/1.1', { length: 'ERR_CONTENT_LENGTH_MISMATCH', chunked: 'ERR_INCOMPLETE_CHUNKED_ENCODING' }],
] as const)
  test(`over ${protocol}, a cut body is a failed transfer in Chromium: the fetch's read rejects, the page's load names the framing`, {
    timeout: 90_000,
    skip: noChromium,
  }, async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    try {
      const base = `https://localhost:${protocol === 'h2' ? h2Port : h1Port}`;
      assert.equal((await page.goto(`${base}/whole`))?.status(), 200);
      // Run in the page (a string: this file's types are Node's, not the DOM's).
      assert.equal(
        await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol"),
        protocol,
      );
      for (const framing of ['length', 'chunked'] as const) {
        const read = await page.evaluate(`(async () => {
          const res = await fetch('/${framing}');
          try { return res.status + ' read whole: ' + (await res.text()).length; }
          catch (err) { return res.status + ' ' + err.name; }
        })()`);
        assert.equal(read, '200 TypeError', `${framing}: the script's read of the cut body`);
        const failed = new Promise<string | undefined>((resolve) =>
          page.once('requestfailed', (request) => resolve(request.failure()?.errorText)),
        );
        await page.goto(`${base}/${framing}?page`, { waitUntil: 'commit' });
        assert.equal(await failed, `net::${expected[framing]}`, `${framing}: the page's load`);
      }
      const lines = gw.logs.filter((line) => line.msg === 'request' && line.path !== '/whole');
      assert.ok(lines.length >= 4);
      for (const line of lines.filter(
        (line) => String(line.path).startsWith('/length') || String(line.path).startsWith('/chunked'),
      ))
        assert.deepEqual([line.status, line.error], [200, 'http_response_incomplete'], String(line.path));
    } finally {
      await page.close();
    }
  });
