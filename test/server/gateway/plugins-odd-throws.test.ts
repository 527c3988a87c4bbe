/**
 * A plugin may throw anything, not only an Error: a value JSON cannot write (a circular object,
 * a BigInt, an Error holding itself) or one whose reading throws (a getter, a toString). Its
 * failure is told as any bug of its own: a 500 naming it and the hook, a `stage failed` line, and
 * the request's access line whole; never a 500 blamed on the gateway, a lost line, or a line the
 * next one is written into.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** What each path's hook throws. */
function oddValue(path: string): unknown {
  const what = path.split('/')[2];
  if (what === 'circular') {
    const value: Record<string, unknown> = { reason: 'a loop' };
    value.self = value;
    return value;
  }
  if (what === 'bigint') return 10n;
  if (what === 'error-circular') {
    const err = new Error('an error holding itself') as Error & { self?: unknown };
    err.self = err;
    return err;
  }
  if (what === 'getter')
    return {
      get message(): string {
        throw new Error('a getter that throws');
      },
      toString(): string {
        throw new Error('a toString that throws');
      },
    };
  return undefined;
}

const odd: Plugin = () => ({
  onRequest(request) {
    if (request.path.startsWith('/req/')) throw oddValue(request.path);
  },
  onEnd(record) {
    if (record.path.startsWith('/end/')) throw oddValue(record.path);
  },
});

describe('a plugin that throws a value the log cannot write as it is', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('odd', odd));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const what of ['circular', 'bigint', 'error-circular', 'getter', 'undefined'])
    test(`onRequest throws ${what}: a 500 naming the plugin, its stage failed line and its access line`, async () => {
      const res = await request(gw.url, { path: `/req/${what}`, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:odd threw in onRequest"; next-hop="app"',
      );
      const id = String(res.headers['x-request-id']);
      const access = await gw.logFor(id);
      assert.deepEqual(
        [access.status, access.error, access.details],
        [500, 'proxy_internal_error', 'plugin:odd threw in onRequest'],
      );
      assert.notEqual(access.err, undefined);
      const told = gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id);
      assert.deepEqual([told?.stage, told?.hook], ['plugin:odd', 'onRequest']);
      // Even `throw undefined` is told: the line says what was thrown, not nothing.
      assert.notEqual(told?.err, undefined);
      // The next request's line is a line of its own (none was left half-written).
      const next = await request(gw.url, { path: '/fine', timeoutMs: 5000 });
      assert.equal(next.status, 200);
      await gw.logFor(String(next.headers['x-request-id']));
    });

  test('onEnd throws a value whose getters throw: the answer goes, a stage failed line names onEnd', async () => {
    const res = await request(gw.url, { path: '/end/getter', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    const id = String(res.headers['x-request-id']);
    assert.equal((await gw.logFor(id)).status, 200);
    await waitUntil('a stage failed line for onEnd', () =>
      gw.logs.some((l) => l.msg === 'stage failed' && l.req_id === id && l.hook === 'onEnd'),
    );
  });
});

describe("a plugin's factory or close that throws a value String() cannot make text of", () => {
  const yaml = `plugins:
  bare: { module: /nonexistent/bare.ts }
routes:
  - { name: bare, match: { path: / }, upstream: app, plugins: [bare] }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`;
  let gw: TestGateway | undefined;
  after(async () => {
    await gw?.close();
  });

  test('a factory that throws a null-prototype object: the start is refused at plugins.bare.module', async () => {
    const bare: Plugin = () => {
      throw Object.create(null);
    };
    await assert.rejects(startTestGateway(yaml, {}, '', { plugins: { bare } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /plugins\.bare\.module: the plugin's factory threw/);
      return true;
    });
  });

  test("a close that rejects with one, at a reload: a 'plugin close threw' line names the plugin", async () => {
    const bare: Plugin = () => ({ close: () => Promise.reject(Object.create(null)) });
    gw = await startTestGateway(yaml, {}, '', { plugins: { bare } });
    const logs = gw.logs;
    await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<reload>', {}));
    await waitUntil("the old instance's close told", () =>
      logs.some((l) => l.msg === 'plugin close threw' && l.stage === 'plugin:bare'),
    );
  });
});
