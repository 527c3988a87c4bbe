/**
 * A field a plugin writes is bounded as a head the gateway takes is (32 KiB): one value larger
 * than a whole head makes a head no peer takes (a client's parser overflows while the log says
 * 200; an upstream answers 431 for a request the client never made too large). Its bug, as a
 * control character in a value is: a 500 naming it and the hook, nothing sent upstream for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const HUGE = 'a'.repeat(1024 * 1024);
const FAIR = 'b'.repeat(8 * 1024);

const big: Plugin = () => ({
  onRequest(request) {
    const what = request.path.split('/')[1];
    if (what === 'upstream') request.headers.set('x-big', HUGE);
    if (what === 'fair') request.headers.set('x-fair', FAIR);
    if (what === 'answer') return { status: 200, headers: { 'x-big': HUGE }, body: 'own' };
  },
  onResponse(response, request) {
    if (request.path === '/down') response.headers.set('x-big', HUGE);
    if (request.path === '/fair') response.headers.set('x-fair', FAIR);
  },
});

describe('a plugin that writes a field value larger than a whole head', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('big', big));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const [path, hook, upstream] of [
    ['/upstream', 'onRequest', 0],
    ['/answer', 'onRequest', 0],
    ['/down', 'onResponse', 1],
  ] as const)
    test(`${path}: a 500 naming the plugin in ${hook}`, async () => {
      const before = app.received.length;
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        `candor; error=proxy_internal_error; ${hook === 'onResponse' ? 'received-status=200; ' : ''}details="plugin:big threw in ${hook}"; next-hop="app"`,
      );
      assert.equal(app.received.length - before, upstream);
      const access = await gw.logFor(String(res.headers['x-request-id']));
      assert.equal(access.status, 500);
      assert.match(String((access.err as { message?: string }).message), /x-big/);
    });

  test('a fair value (8 KiB) goes both ways', async () => {
    const res = await request(gw.url, { path: '/fair', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-fair'], FAIR);
    assert.equal(app.received.at(-1)?.headers['x-fair'], FAIR);
  });
});
