/**
 * A plugin's factory that calls `context.fetch` (to load its settings from a service, say) runs
 * before the gateway serves the factory's config: at start there were no upstreams yet, and the
 * call threw at once (not even a promise) with the gateway's own words, "Cannot access 'live'
 * before initialization", the start refused as the factory's throw; at a reload it went through
 * the config before, and an upstream new in the config was "no upstream named … in the config".
 * It is refused, as a promise's rejection, saying why and what to do instead; a hook's call goes
 * through once the config is served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const NOT_YET = /^fetch: the gateway does not serve this plugin's config yet/;

/** What the factory's call came to: thrown at once, or the promise's rejection. */
const calls: { thrown?: string; rejected?: string }[] = [];
let awaitIt = false;
let upstream = 'app';

const early: Plugin = async (_options, context) => {
  let call: Promise<unknown> | undefined;
  try {
    call = context.fetch(upstream, '/settings');
  } catch (err) {
    calls.push({ thrown: (err as Error).message });
  }
  if (call !== undefined)
    if (awaitIt) await call;
    else call.catch((err: Error) => calls.push({ rejected: err.message }));
  return {
    async onRequest(request) {
      if (request.path !== '/hook') return undefined;
      const answer = await context.fetch('app', '/from-hook', { request });
      return new Response(`hook fetched ${answer.status}`);
    },
  };
};

const yaml = (url: string, more = '') => `plugins:
  early: { module: /nonexistent/early.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [early] }
upstreams:
  app: { targets: [{ url: ${url} }] }
${more}`;

describe("a plugin's factory that calls context.fetch", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('awaited at start: the start refused at plugins.early.module, saying why, not an error of the gateway', async () => {
    awaitIt = true;
    await assert.rejects(startTestGateway(yaml(app.url), {}, '', { plugins: { early } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /plugins\.early\.module/);
      assert.match(err.message, /fetch: the gateway does not serve this plugin's config yet/);
      assert.doesNotMatch(err.message, /before initialization/);
      return true;
    });
  });

  test('at start, not awaited: a promise that rejects saying why; the gateway starts, and a hook fetches', async () => {
    awaitIt = false;
    calls.length = 0;
    gw = await startTestGateway(yaml(app.url), {}, '', { plugins: { early } });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 1);
    assert.equal(calls[0].thrown, undefined, 'thrown at once');
    assert.match(String(calls[0].rejected), NOT_YET);
    const res = await request(gw.url, { path: '/hook', timeoutMs: 5000 });
    assert.equal(res.text, 'hook fetched 200');
  });

  test('at a reload, to an upstream new in the config: refused saying why, not "no upstream named"', async () => {
    calls.length = 0;
    upstream = 'settings';
    const next = parseConfig(
      `listen:\n  - address: 127.0.0.1:0\n${yaml(app.url, `  settings: { targets: [{ url: ${app.url} }] }\n`)}`,
      '<reload>',
      {},
    );
    await gw.gateway.reload(next);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 1);
    assert.match(String(calls[0].rejected), NOT_YET);
    assert.equal((await request(gw.url, { path: '/hook', timeoutMs: 5000 })).text, 'hook fetched 200');
  });
});
