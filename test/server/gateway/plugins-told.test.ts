/**
 * A plugin's failure that is not its request's answer is still told, and told of that request:
 * under `on_error: continue` the request goes on without it (a bug, an overrun, a hop it called
 * that failed), and an `onEnd` failure (a throw, a rejection, an overrun) comes after the answer; each is a `stage failed` line
 * naming the plugin, the hook and the request's id, on real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const observer: Plugin = (_options, context) => ({
  async onRequest(request) {
    if (request.path === '/lax/hop') await context.fetch('refusing', '/check', { request });
    if (request.path === '/lax/throw') throw new Error('an observer bug');
    if (request.path === '/lax/hang') await new Promise(() => {});
  },
});

const counter: Plugin = () => ({
  onEnd(record) {
    if (record.path === '/end/throw') throw new Error('a count bug');
    // An asynchronous count that fails: its rejection is its failure as a throw is, counted once.
    if (record.path === '/end/reject') return Promise.reject(new Error('a late count bug'));
    // One that never settles: past its timeout it is told and counted as an overrun, as any hook's.
    if (record.path === '/end/hang') return new Promise(() => {});
  },
});

describe("a plugin's failure the request went on without is logged with the request's id", () => {
  let app: Fault;
  let refusing: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    refusing = await startRefusing();
    gw = await startTestGateway(
      `plugins:
  observer: { module: /nonexistent/observer.ts, timeout: 200ms, on_error: continue }
  counter: { module: /nonexistent/counter.ts, timeout: 200ms }
routes:
  - { name: lax, match: { path: /lax }, upstream: app, plugins: [observer] }
  - { name: end, match: { path: /end }, upstream: app, plugins: [counter] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  refusing: { targets: [{ url: ${refusing.url} }] }
`,
      {},
      '',
      { plugins: { observer, counter } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    await refusing?.close();
  });

  for (const [path, hook, error, details] of [
    ['/lax/hop', 'onRequest', 'connection_refused', undefined],
    ['/lax/throw', 'onRequest', 'proxy_internal_error', 'plugin:observer threw in onRequest'],
    ['/lax/hang', 'onRequest', 'proxy_internal_error', 'plugin:observer overran its 200 ms in onRequest'],
    ['/end/throw', 'onEnd', 'proxy_internal_error', 'plugin:counter threw in onEnd'],
    ['/end/reject', 'onEnd', 'proxy_internal_error', 'plugin:counter threw in onEnd'],
    ['/end/hang', 'onEnd', 'proxy_internal_error', 'plugin:counter overran its 200 ms in onEnd'],
  ] as const)
    test(`${path}: the app answers; a stage failed line names the plugin, ${hook}, ${error} and the request id`, async () => {
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 200);
      const id = String(res.headers['x-request-id']);
      const access = await gw.logFor(id);
      assert.deepEqual([access.status, access.error, access.plugin_hop], [200, undefined, undefined]);
      const told = () => gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id);
      await waitUntil(`a stage failed line for ${id}`, () => told() !== undefined);
      const line = told() as Record<string, unknown>;
      assert.equal(line.stage, path.startsWith('/end') ? 'plugin:counter' : 'plugin:observer');
      assert.equal(line.hook, hook);
      assert.equal(line.error, error);
      if (details !== undefined) assert.equal(line.details, details);
      else assert.match(String(line.details), /connection refused/);
    });

  test("/status counts the onEnd that threw and the one that rejected as the counter's failures, and no other; the one that hung as its overrun", () => {
    const counted = gw.gateway.status().plugins?.['plugin:counter'];
    assert.deepEqual([counted?.failures, counted?.overruns], [2, 1]);
  });
});
