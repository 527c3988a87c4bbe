/**
 * A route's cache makes requests of its own (a `Range` miss's fetch of the whole answer, `fill`; a
 * stale answer's refresh, `refresh`) through the route's whole pipeline, its plugins included, so
 * that what a plugin writes upstream (a tenant's field, a token) goes with them. A plugin that
 * counts requests in onEnd (docs/examples/plugins/tenant-counter.ts) met such a fetch as one more
 * client request, with nothing to tell it apart: one client's `Range` counted twice. onRequest and
 * onEnd now say `background` (and onEnd `forRequestId`), as the log line does; on real sockets.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Plugin, PluginRecord } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const body = Buffer.from('0123456789'.repeat(100));
const seen: { hook: string; id: string; background: string | undefined }[] = [];
const ended: PluginRecord[] = [];

const counter: Plugin = () => ({
  onRequest(req) {
    seen.push({ hook: 'onRequest', id: req.id, background: req.background });
  },
  onEnd(record) {
    ended.push(record);
  },
});

describe("a plugin on a cached route is told the cache's own requests", () => {
  let app: http.Server;
  let gw: TestGateway;
  before(async () => {
    app = http.createServer((req, res) => {
      // /r/stale: stale as it comes (its Age past its max-age), within its stale-while-revalidate.
      const stale = req.url === '/r/stale';
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': body.length,
        'cache-control': stale ? 'public, max-age=1, stale-while-revalidate=600' : 'public, max-age=60',
        ...(stale ? { age: '5' } : {}),
        etag: '"v1"',
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    gw = await startTestGateway(
      `plugins:
  counter: { module: /nonexistent/counter.ts }
routes:
  - { name: r, match: { path: /r }, upstream: app, cache: {}, plugins: [counter] }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:${port} }] }
`,
      {},
      '',
      { plugins: { counter } },
    );
  });
  after(async () => {
    await gw?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  test("a Range miss: the client's request is no background one, the whole answer's fetch is a fill for it", async () => {
    const res = await request(gw.url, { path: '/r/a', headers: { range: 'bytes=0-3' } });
    assert.equal(res.status, 206);
    assert.equal(res.body.toString(), '0123');
    const id = String(res.headers['x-request-id']);
    await gw.logFor(id);
    await gw.accessLine(2);
    const fill = gw.logs.find((line) => line.msg === 'request' && line.background === 'fill');
    assert.equal(fill?.for_req_id, id);
    const fillId = String(fill?.req_id);
    // onEnd follows each line; bounded, never timed.
    for (let i = 0; i < 200 && ended.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(
      seen.map((s) => [s.id, s.background]).sort(),
      [
        [id, undefined],
        [fillId, 'fill'],
      ].sort(),
    );
    const records = ended.map((r) => [r.id, r.background, r.forRequestId]).sort();
    assert.deepEqual(
      records,
      [
        [id, undefined, undefined],
        [fillId, 'fill', id],
      ].sort(),
    );
  });

  test("a stale answer given: the refresh it starts is one for the client's request", async () => {
    seen.length = 0;
    ended.length = 0;
    const first = await request(gw.url, { path: '/r/stale' });
    assert.equal(first.status, 200);
    await gw.logFor(String(first.headers['x-request-id']));
    const res = await request(gw.url, { path: '/r/stale' });
    assert.match(String(res.headers['cache-status']), /fwd=stale/);
    const id = String(res.headers['x-request-id']);
    const lines = gw.logs.filter((line) => line.msg === 'request').length;
    await gw.accessLine(lines + 1);
    await gw.logFor(id);
    const refresh = gw.logs.find((line) => line.background === 'refresh' && line.for_req_id === id);
    const refreshId = String(refresh?.req_id);
    for (let i = 0; i < 200 && ended.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(
      ended.map((r) => [r.id, r.background, r.forRequestId]).sort(),
      [
        [String(first.headers['x-request-id']), undefined, undefined],
        [id, undefined, undefined],
        [refreshId, 'refresh', id],
      ].sort(),
    );
    assert.deepEqual(
      seen.filter((s) => s.background !== undefined).map((s) => [s.id, s.background]),
      [[refreshId, 'refresh']],
    );
  });
});
