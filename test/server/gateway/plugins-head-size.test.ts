/**
 * Each field a plugin writes is bounded (plugins-field-size.test.ts), and so is the whole head its
 * fields make: many medium values (each well under 32 KiB) add up to a head no peer takes, past
 * the 32 KiB of a whole head the gateway itself takes (an upstream answers 431 for a request its
 * client never made too large; a client's parser overflows while the log says 200). The plugin
 * whose fields take the head past the bound is at fault: a 500 naming it and the hook, its
 * `stage failed` line saying the size and the bound, nothing sent upstream (or to its service).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** 12 KiB: a fair value on its own; four of them are a 48 KiB head. */
const MEDIUM = 'm'.repeat(12 * 1024);

function fields(count: number): Record<string, string> {
  const made: Record<string, string> = {};
  for (let i = 0; i < count; i++) made[`x-medium-${i}`] = MEDIUM;
  return made;
}

const many: Plugin = (_options, context) => ({
  async onRequest(request) {
    const [, what, count] = request.path.split('/');
    const set = fields(Number(count));
    if (what === 'up' || what === 'two')
      for (const [name, value] of Object.entries(set)) request.headers.set(name, value);
    if (what === 'answer') return { status: 200, headers: set, body: 'own' };
    if (what === 'fetch') await context.fetch('svc', '/check', { headers: set, request });
  },
  onResponse(response, request) {
    const [, what, count] = request.path.split('/');
    if (what === 'down')
      for (const [name, value] of Object.entries(fields(Number(count)))) response.headers.set(name, value);
  },
});

/** A second plugin on /two: the fields it adds take the head the first left (24 KiB) past the bound. */
const more: Plugin = () => ({
  onRequest(request) {
    if (request.path.startsWith('/two/'))
      for (let i = 0; i < 2; i++) request.headers.set(`x-more-${i}`, MEDIUM);
  },
});

describe('a plugin whose fields, each fair, make a head past 32 KiB', () => {
  let app: Fault;
  let svc: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    svc = await startEcho();
    gw = await startTestGateway(
      `plugins:
  many: { module: /nonexistent/many.ts }
  more: { module: /nonexistent/more.ts }
routes:
  - { name: two, match: { path: /two }, upstream: app, plugins: [many, more] }
  - { name: many, match: { path: / }, upstream: app, plugins: [many] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: ${svc.url} }] }
`,
      {},
      '',
      { plugins: { many, more } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    await svc?.close();
  });

  for (const [path, plugin, hook, upstream] of [
    ['/up/4', 'many', 'onRequest', 0],
    ['/answer/4', 'many', 'onRequest', 0],
    ['/fetch/4', 'many', 'onRequest', 0],
    ['/down/4', 'many', 'onResponse', 1],
    ['/two/2', 'more', 'onRequest', 0],
  ] as const)
    test(`${path}: a 500 naming plugin:${plugin} in ${hook}, its line the size and the bound`, async () => {
      const [atApp, atSvc] = [app.received.length, svc.received.length];
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        `candor; error=proxy_internal_error; ${hook === 'onResponse' ? 'received-status=200; ' : ''}details="plugin:${plugin} threw in ${hook}"; next-hop="app"`,
      );
      assert.equal(app.received.length - atApp, upstream);
      assert.equal(svc.received.length, atSvc);
      const id = String(res.headers['x-request-id']);
      const access = await gw.logFor(id);
      assert.equal(access.status, 500);
      await waitUntil('its stage failed line logged', () =>
        gw.logs.some((l) => l.msg === 'stage failed' && l.req_id === id),
      );
      const failed = gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id);
      assert.equal(failed?.stage, `plugin:${plugin}`);
      // The contract's name for onResponse, as /metrics counts it.
      assert.equal(failed?.hook, hook === 'onResponse' ? 'onUpstreamHead' : hook);
      assert.match(
        String((failed?.err as { message?: string } | undefined)?.message),
        /a head of \d+ bytes, past the 32768 of a whole head the gateway takes/,
      );
    });

  // One 12 KiB field: node:http's echo takes a head of 16 KiB at most.
  test('fields that make a fair head go both ways', async () => {
    const up = await request(gw.url, { path: '/up/1', timeoutMs: 5000 });
    assert.equal(up.status, 200);
    assert.equal(app.received.at(-1)?.headers['x-medium-0'], MEDIUM);
    const down = await request(gw.url, { path: '/down/1', timeoutMs: 5000 });
    assert.equal(down.status, 200);
    assert.equal(down.headers['x-medium-0'], MEDIUM);
  });
});
