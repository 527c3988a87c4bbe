/**
 * An onResponse that returns something (an answer in place of the upstream's, as onRequest may):
 * onResponse only edits the answer's fields, so what it returns would be dropped without a word
 * and the upstream's answer sent as if the plugin had agreed. It is the plugin's bug: a 500 naming
 * it and onResponse, on real sockets; returning nothing goes on as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const guard: Plugin = () => ({
  onResponse(response, request) {
    response.headers.set('x-guarded', 'yes');
    if (request.path === '/r/sync') return new Response('blocked', { status: 403 }) as never;
    if (request.path === '/r/async') return Promise.resolve({ status: 403, body: 'blocked' }) as never;
    if (request.path === '/r/nothing') return Promise.resolve(undefined);
    // A concise arrow's value (`map.set(…)`) is no answer meant.
    if (request.path === '/r/map') return new Map() as never;
  },
});

describe('an onResponse that returns an answer', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `plugins:
  guard: { module: /nonexistent/guard.ts }
routes:
  - { name: r, match: { path: /r }, upstream: app, plugins: [guard] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      {},
      '',
      { plugins: { guard } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const path of ['/r/sync', '/r/async'])
    test(`${path}: a 500 naming the plugin and onResponse, never the upstream's 200`, async () => {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 500);
      assert.match(
        String(res.headers['proxy-status']),
        /^candor; error=proxy_internal_error; received-status=200; details="plugin:guard threw in onResponse"/,
      );
      assert.equal(res.headers['x-guarded'], undefined);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.match(String(line.err && (line.err as { message: string }).message), /onResponse/);
    });

  test('returning nothing (a promise of nothing, a value that is no answer) goes on with its edits', async () => {
    for (const path of ['/r/plain', '/r/nothing', '/r/map']) {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-guarded'], 'yes');
    }
  });
});
