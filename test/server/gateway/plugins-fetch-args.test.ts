/**
 * What a plugin hands `context.fetch` that no request may carry is its bug, a 500 naming it, and
 * nothing reaches its service: a path with CR LF in it (a query parameter the plugin decoded and
 * put in the path) would write a field of the client's choosing into the service's request head;
 * a field value with a control character goes as no peer takes it; a timeout that is no positive
 * number of milliseconds was the service's 504, its outage for the plugin's slip.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const checker: Plugin = (_options, context) => ({
  async onRequest(request) {
    const what = request.path.slice(1);
    const id = request.query.get('id') ?? '';
    if (what === 'path') await context.fetch('svc', `/check/${id}`, { request });
    if (what === 'field') await context.fetch('svc', '/check', { headers: { 'x-id': id }, request });
    if (what === 'timeout') await context.fetch('svc', '/check', { timeout: -1, request });
  },
});

describe('a plugin that hands context.fetch what no request may carry', () => {
  let app: Fault;
  let svc: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    svc = await startEcho();
    gw = await startTestGateway(
      `plugins:
  checker: { module: /nonexistent/checker.ts }
routes:
  - { name: checked, match: { path: / }, upstream: app, plugins: [checker] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: ${svc.url} }] }
`,
      {},
      '',
      { plugins: { checker } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    await svc?.close();
  });

  for (const path of ['/path?id=1%0D%0AX-Evil:%201', '/field?id=a%01b', '/timeout'])
    test(`${path}: a 500 naming the plugin; the service and the upstream get nothing`, async () => {
      const [before, upstream] = [svc.received.length, app.received.length];
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:checker threw in onRequest"; next-hop="app"',
      );
      assert.deepEqual(
        svc.received.slice(before).map((r) => [r.path, r.headers]),
        [],
      );
      assert.equal(app.received.length, upstream);
    });
});
