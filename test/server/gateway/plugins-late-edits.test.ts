/**
 * onResponse gets the request too, but the request went upstream before the answer came: a field
 * it sets or deletes on `request.headers` then would be dropped without a word, and the plugin
 * believe the upstream had it (as a change of the read-only `request.query` was). It is the
 * plugin's bug: a 500 naming it and onResponse; reading the request's fields there goes on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const late: Plugin = () => ({
  onRequest(request) {
    // Read (and changed) in time: it goes upstream, and is no late edit.
    request.headers.set('x-early', 'yes');
  },
  async onResponse(response, request) {
    response.headers.set('x-saw', request.headers.get('x-early') ?? 'none');
    if (request.path === '/late/set') request.headers.set('x-late', 'yes');
    if (request.path === '/late/delete') request.headers.delete('x-early');
    if (request.path === '/late/async') {
      await Promise.resolve();
      request.headers.set('x-late', 'yes');
    }
  },
});

describe('an onResponse that changes request.headers', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('late', late));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const path of ['/late/set', '/late/delete', '/late/async'])
    test(`${path}: a 500 naming the plugin and onResponse, never the upstream's 200`, async () => {
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; received-status=200; details="plugin:late threw in onResponse"; next-hop="app"',
      );
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.match(
        String((line.err as { message?: string } | undefined)?.message),
        /request\.headers .*in onResponse/,
      );
    });

  test('reading them there goes on', async () => {
    const res = await request(gw.url, { path: '/read', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-saw'], 'yes');
    assert.equal(app.received.at(-1)?.headers['x-early'], 'yes');
  });
});
