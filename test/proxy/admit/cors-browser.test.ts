/**
 * CORS in a real browser: a page on one origin calls a route of the gateway whose upstream is
 * down, and its script reads the real 502 and Proxy-Status (not "TypeError: Failed to fetch").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('a page on another origin reads the gateway’s 502, its Proxy-Status and request id through CORS, after a preflight', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const site = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title><p>app</p>');
  });
  const sitePort = await listenLoopback(site);
  const origin = `http://127.0.0.1:${sitePort}`;
  const down = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    cors:
      origins: [${origin}]
      methods: [GET, DELETE]
      headers: [X-Api-Key]
upstreams:
  app:
    targets:
      - url: ${down.url}
`);
  const browser = await launchChromium(join(tempDir('candor-cors-'), 'profile'));
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.goto(`${origin}/`);
    // A DELETE with X-Api-Key is not "simple": the browser sends a preflight first.
    const seen = await page.evaluate(async (url) => {
      try {
        const res = await fetch(url, { method: 'DELETE', headers: { 'X-Api-Key': 'k-1' } });
        return {
          status: res.status,
          proxyStatus: res.headers.get('proxy-status'),
          requestId: res.headers.get('x-request-id'),
        };
      } catch (err) {
        return { error: String(err) };
      }
    }, `${gw.url}/api/orders/7`);
    assert.equal('error' in seen, false, JSON.stringify(seen));
    assert.equal(seen.status, 502);
    assert.match(String(seen.proxyStatus), /^edge-1; error=connection_refused; .*next-hop="app"$/);
    assert.match(String(seen.requestId), /^[0-9a-f-]{36}$/);
    const lines = gw.logs.filter((line) => line.msg === 'request');
    assert.deepEqual(
      lines.map((line) => [line.method, line.status, line.auth]),
      [
        ['OPTIONS', 204, 'allowed'],
        ['DELETE', 502, 'allowed'],
      ],
    );
    assert.equal(down.received.length, 0);
  } finally {
    await browser.close();
    await gw.close();
    await down.close();
    await new Promise((resolve) => site.close(resolve));
  }
});
