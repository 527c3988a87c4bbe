/**
 * A plugin's own answer of a shape no client may be sent (a status outside 200–599 or no integer,
 * a field name or value HTTP refuses, a body that is no bytes) is its bug: a 500 naming it and
 * onRequest, said in its `stage failed` line; nothing of its answer on the wire, the upstream not
 * asked. A 204 or 304 it gives a body goes without it (docs/plugins.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin, PluginAnswer } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

/** Each path's answer, and what its stage failed line says of it. */
const BAD: Record<string, [() => unknown, RegExp]> = {
  '/status-99': [() => ({ status: 99 }), /status 99: a final answer is 200 to 599/],
  '/status-600': [() => ({ status: 600 }), /status 600/],
  '/status-text': [() => ({ status: '200' }), /no answer/],
  '/status-fraction': [() => ({ status: 200.5 }), /status 200\.5/],
  '/name-space': [() => ({ status: 200, headers: { 'x bad': 'v' } }), /header name/i],
  '/value-crlf': [() => ({ status: 200, headers: { 'x-a': 'a\r\nx-injected: 1' } }), /header value/i],
  '/body-object': [() => ({ status: 200, body: { a: 1 } }), /body that is a value of type object/],
  '/response-204-body': [() => new Response('x', { status: 204 }), /Invalid response status code 204/],
};

const bad: Plugin = () => ({
  onRequest(request) {
    const made = BAD[request.path];
    if (made !== undefined) return made[0]() as PluginAnswer;
    if (request.path === '/no-content') return { status: 204, body: 'dropped' };
  },
});

describe("a plugin's answer of a bad shape", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('bad', bad));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const [path, [, said]] of Object.entries(BAD))
    test(`${path}: a 500 naming the plugin, nothing of its answer sent, the upstream not asked`, async () => {
      const before = app.received.length;
      const raw = await rawUntil(
        gw.port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        () => false,
      );
      const [head] = raw.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 500 /);
      assert.match(
        head,
        /\r\nproxy-status: candor; error=proxy_internal_error; details="plugin:bad threw in onRequest"; next-hop="app"\r\n/,
      );
      assert.doesNotMatch(raw, /x-injected|x bad/i);
      assert.equal(app.received.length, before);
      const id = String(/\r\nx-request-id: ([^\r]+)/.exec(head)?.[1]);
      await gw.logFor(id);
      const told = gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id);
      assert.match(String((told?.err as { message?: string } | undefined)?.message), said);
    });

  test('a 204 it gives a body goes without it; the next answer on the connection is clean', async () => {
    const raw = await rawUntil(
      gw.port,
      'GET /no-content HTTP/1.1\r\nHost: x\r\n\r\nGET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      () => false,
    );
    const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
    assert.match(first, /^HTTP\/1\.1 204 /);
    assert.ok(first.endsWith('\r\n\r\n'), first);
    assert.match(second, /^HTTP\/1\.1 200 /);
  });
});
