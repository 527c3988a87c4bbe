/**
 * What a plugin is given to read only: the answer's `status` in onResponse, the request's `client`
 * (and `method`, `path`, `id`, `route`). A plugin's module is strict code (an ES module) and Node
 * strips a `.ts` file's types unchecked, so `readonly` in the API's types stops no one: an
 * assignment taken and never acted on would let the plugin believe it had turned the upstream's
 * 200 into a 503, or changed the address the upstream is told. It is the plugin's bug: a 500
 * naming it and the hook, nothing sent on; reading them goes on.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

/** As a plugin whose types no one checked writes it. */
type Writable = Record<string, unknown>;

const frozen: Plugin = () => ({
  onRequest(request) {
    if (request.path === '/set/client') (request.client as Writable).address = '203.0.113.9';
    if (request.path === '/set/method') (request as unknown as Writable).method = 'DELETE';
  },
  onResponse(response, request) {
    response.headers.set('x-saw', `${response.status} ${request.client.address}`);
    if (request.path === '/set/status') (response as unknown as Writable).status = 503;
  },
});

describe('a plugin that assigns what it is given to read', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('frozen', frozen));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const path of ['/set/client', '/set/method'])
    test(`${path} in onRequest: a 500 naming the plugin, the upstream not asked`, async () => {
      const before = app.received.length;
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:frozen threw in onRequest"; next-hop="app"',
      );
      assert.equal(app.received.length, before);
    });

  test("response.status in onResponse: a 500 naming the plugin, never the upstream's 200 as if it had agreed", async () => {
    const res = await request(gw.url, { path: '/set/status', timeoutMs: 5000 });
    assert.equal(res.status, 500);
    assert.equal(
      res.headers['proxy-status'],
      'candor; error=proxy_internal_error; received-status=200; details="plugin:frozen threw in onResponse"; next-hop="app"',
    );
  });

  test('reading them goes on', async () => {
    const res = await request(gw.url, { path: '/read', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-saw'], '200 127.0.0.1');
  });
});

/**
 * A CommonJS plugin is sloppy code unless it says 'use strict': there an assignment to a frozen
 * object's property, or to a getter's, is dropped without a word (no TypeError), and the upstream's
 * 200 went out while the plugin believed it had made it a 503. Each read-only field has a setter
 * that throws, which sloppy code meets too.
 */
const SLOPPY = `module.exports = () => ({
  onRequest(request) {
    if (request.path === '/sloppy/client') request.client.address = '203.0.113.9';
    if (request.path === '/sloppy/client-whole') request.client = { address: '203.0.113.9' };
    if (request.path === '/sloppy/method') request.method = 'DELETE';
    if (request.path === '/sloppy/path') request.path = '/admin';
    if (request.path === '/sloppy/headers') request.headers = new Headers({ 'x-forged': '1' });
  },
  onResponse(response, request) {
    if (request.path === '/sloppy/status') response.status = 503;
    if (request.path === '/sloppy/answer-headers') response.headers = new Headers();
  },
});
`;

describe('a CommonJS plugin in sloppy mode that assigns what it is given to read', () => {
  let dir: string;
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    dir = tempDir('candor-sloppy-');
    writeFileSync(join(dir, 'sloppy.cjs'), SLOPPY);
    const sloppy = createRequire(import.meta.url)(join(dir, 'sloppy.cjs')) as Plugin;
    ({ app, gw } = await startPluginGateway('sloppy', sloppy));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const path of [
    '/sloppy/client',
    '/sloppy/client-whole',
    '/sloppy/method',
    '/sloppy/path',
    '/sloppy/headers',
  ])
    test(`${path} in onRequest: a 500 naming the plugin, the upstream not asked`, async () => {
      const before = app.received.length;
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:sloppy threw in onRequest"; next-hop="app"',
      );
      assert.equal(app.received.length, before);
    });

  for (const path of ['/sloppy/status', '/sloppy/answer-headers'])
    test(`${path} in onResponse: a 500 naming the plugin, never the upstream's 200 as if it had agreed`, async () => {
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; received-status=200; details="plugin:sloppy threw in onResponse"; next-hop="app"',
      );
    });

  test('a request it reads only goes through', async () => {
    assert.equal((await request(gw.url, { path: '/sloppy/read', timeoutMs: 5000 })).status, 200);
  });
});
