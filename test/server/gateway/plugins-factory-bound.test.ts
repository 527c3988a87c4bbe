/**
 * A plugin's factory runs once a config load; an asynchronous one that never settles (or a
 * thenable that never calls back) would hold the start, or the reload, for ever: and every later
 * reload with it, for reloads run one after another. It is bounded as a module's top-level code
 * is (5 s): past it the config is refused at `plugins.NAME.module`, and the config before serves on.
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

/** Rejects when `promise` has not settled within `ms`: the test ends whatever the gateway does. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** How the next call of the factory answers. */
let mode: 'hooks' | 'never' | 'thenable' = 'hooks';

const stuck: Plugin = () => {
  if (mode === 'never') return new Promise(() => {});
  // biome-ignore lint/suspicious/noThenProperty: a thenable that never calls back, as a plugin may return
  if (mode === 'thenable') return { then() {} } as unknown as Promise<never>;
  return {
    onResponse(response) {
      response.headers.set('x-plugin', 'made');
    },
  };
};

const yaml = (url: string) => `plugins:
  stuck: { module: /nonexistent/stuck.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [stuck] }
upstreams:
  app: { targets: [{ url: ${url} }] }
`;

describe("a plugin's factory that never settles", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('at start: refused at plugins.stuck.module, saying it did not settle', async () => {
    mode = 'never';
    await assert.rejects(
      within(startTestGateway(yaml(app.url), {}, '', { plugins: { stuck } }), 20_000),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /plugins\.stuck\.module/);
        assert.match(err.message, /factory did not settle within 5000 ms/);
        return true;
      },
    );
  });

  test('at a reload (a promise, then a thenable): each refused, the config before serves on, and a later reload goes through', async () => {
    mode = 'hooks';
    gw = await startTestGateway(yaml(app.url), {}, '', { plugins: { stuck } });
    const config = () => parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(app.url)}`, '<reload>', {});
    for (const hanging of ['never', 'thenable'] as const) {
      mode = hanging;
      await assert.rejects(within(gw.gateway.reload(config()), 20_000), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /plugins\.stuck\.module/);
        return true;
      });
      assert.equal((await request(gw.url, { timeoutMs: 5000 })).headers['x-plugin'], 'made');
    }
    mode = 'hooks';
    await within(gw.gateway.reload(config()), 20_000);
    assert.equal((await request(gw.url, { timeoutMs: 5000 })).headers['x-plugin'], 'made');
  });
});
