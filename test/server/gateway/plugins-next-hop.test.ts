/**
 * What Proxy-Status's `next-hop` says of a plugin's failure. RFC 9209 §2.1.3: it "identifies the
 * intermediary or origin server selected (and used, if contacted) to obtain this response". A
 * plugin runs after admit selected the route's upstream, so its 500 names that upstream, as the
 * gateway's other refusals past selection do (a rate limit's 429, no healthy target's 503): in
 * onRequest the upstream was selected and never contacted (nothing reached it, no target was
 * chosen, so `expose_upstream_address` has no address to give); in onResponse it was contacted
 * and answered, so it is the target that answered, by its address where the config exposes it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const bug: Plugin = () => ({
  onRequest(request) {
    if (request.path === '/request') throw new Error('a bug before the upstream');
  },
  onResponse(_response, request) {
    if (request.path === '/response') throw new Error('a bug after the upstream answered');
  },
});

for (const expose of [false, true])
  describe(`a plugin's 500 names the upstream selected (expose_upstream_address: ${expose})`, () => {
    let app: Fault;
    let gw: TestGateway;
    before(async () => {
      app = await startEcho();
      gw = await startTestGateway(
        `errors: { expose_upstream_address: ${expose} }
plugins:
  bug: { module: /nonexistent/bug.ts }
routes:
  - { name: buggy, match: { path: / }, upstream: app, plugins: [bug] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
        {},
        '',
        { plugins: { bug } },
      );
    });
    after(async () => {
      await gw?.close();
      await app?.close();
    });

    test('onRequest: the upstream selected, never contacted, by its name', async () => {
      const atApp = app.received.length;
      const res = await request(gw.url, { path: '/request', timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:bug threw in onRequest"; next-hop="app"',
      );
      assert.equal(app.received.length, atApp);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.deepEqual(
        [line.upstream, line.target, line.attempts, line.stage],
        ['app', undefined, 0, 'not_sent'],
      );
    });

    test('onResponse: the upstream that answered (its address, where exposed)', async () => {
      const atApp = app.received.length;
      const res = await request(gw.url, { path: '/response', timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        `candor; error=proxy_internal_error; received-status=200; details="plugin:bug threw in onResponse"; next-hop="${expose ? app.url : 'app'}"`,
      );
      assert.equal(app.received.length - atApp, 1);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.deepEqual([line.upstream, line.attempts, line.stage], ['app', 1, 'head_received']);
    });
  });
