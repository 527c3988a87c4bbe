/**
 * A hook may return a promise that is not the platform's own (a thenable: a promise library's,
 * a `PromiseLike` of a plugin's making): it is waited for as a Promise is, within the plugin's
 * `timeout`. Taken for an answer, onRequest's was a 500 "no answer"; ignored, onResponse's edits
 * were dropped without a word while the upstream's answer went, and one that never settled
 * held nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** A thenable that runs `work` a little later and settles with what it returns (never, for 'never'). */
function later<T>(work: () => T, never = false): Promise<T> {
  return {
    // biome-ignore lint/suspicious/noThenProperty: the thenable under test
    then(resolve: (value: T) => void) {
      if (!never) setTimeout(() => resolve(work()), 10);
    },
  } as unknown as Promise<T>;
}

const lazy: Plugin = () => ({
  onRequest(request) {
    if (request.path === '/edit')
      return later(() => {
        request.headers.set('x-later', 'up');
        return undefined;
      });
    if (request.path === '/deny') return later(() => ({ status: 403, body: 'denied later' }));
  },
  onResponse(response, request) {
    if (request.path === '/down')
      return later(() => {
        response.headers.set('x-later', 'down');
      });
    if (request.path === '/never') return later(() => undefined, true);
  },
});

describe('a plugin hook that returns a thenable', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `plugins:
  lazy: { module: /nonexistent/lazy.ts, timeout: 300ms }
routes:
  - { name: lazy, match: { path: / }, upstream: app, plugins: [lazy] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      {},
      '',
      { plugins: { lazy } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("onRequest's thenable is waited for: its edit goes upstream", async () => {
    const res = await request(gw.url, { path: '/edit', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(app.received.at(-1)?.headers['x-later'], 'up');
  });

  test("onRequest's thenable resolving to an answer: the plugin's answer", async () => {
    const res = await request(gw.url, { path: '/deny', timeoutMs: 5000 });
    assert.deepEqual([res.status, res.text], [403, 'denied later']);
    assert.equal((await gw.logFor(String(res.headers['x-request-id']))).answered_by, 'plugin:lazy');
  });

  test("onResponse's thenable holds the answer until it resolves: its edit reaches the client", async () => {
    const res = await request(gw.url, { path: '/down', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-later'], 'down');
  });

  test("onResponse's thenable that never settles overruns the plugin's timeout: a 500 naming it", async () => {
    const res = await request(gw.url, { path: '/never', timeoutMs: 5000 });
    assert.equal(res.status, 500);
    assert.equal(
      res.headers['proxy-status'],
      'candor; error=proxy_internal_error; received-status=200; details="plugin:lazy overran its 300 ms in onResponse"; next-hop="app"',
    );
  });
});
