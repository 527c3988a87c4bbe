/**
 * A plugin that sets a cookie in onResponse on a route with a cache: the store keeps the upstream's
 * answer, never the plugin's cookie, so a hit never gives one client's cookie to another.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let n = 0;
const cookie: Plugin = () => ({
  async onResponse(res) {
    n++;
    await null;
    res.headers.append('set-cookie', `session=client-${n}`);
  },
});

describe('a plugin that sets a cookie on a cached route', () => {
  let app: http.Server;
  let gw: TestGateway;
  let hits = 0;
  before(async () => {
    app = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }).end('page');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    gw = await startTestGateway(
      `plugins:
  cookie: { module: /nonexistent/cookie.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [cookie], cache: {} }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:${(app.address() as { port: number }).port} }] }
`,
      {},
      '',
      { plugins: { cookie } },
    );
  });
  after(async () => {
    await gw?.close();
    await new Promise((r) => app?.close(r));
  });

  test('a cookie the plugin sets in onResponse is never stored, nor given to another client from the store (cache: a Set-Cookie is never kept)', async () => {
    const first = await request(gw.url, { path: '/p' });
    const second = await request(gw.url, { path: '/p' });
    assert.deepEqual(first.headers['set-cookie'], ['session=client-1']);
    assert.equal(String(second.headers['cache-status']).includes('hit'), true);
    assert.equal(hits, 1);
    assert.notDeepEqual(second.headers['set-cookie'], ['session=client-1']);
  });
});
