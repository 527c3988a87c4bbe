/**
 * A plugin reads the request's query; it cannot change what the upstream receives (the route's
 * rewrite decides that). A change was taken in silence and never sent: a plugin that deleted a
 * token from it believed it had. Now the change throws, the plugin's bug, a 500 naming it. And an
 * answer's body of the wrong type is said as such, not as a TypeError of Buffer's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const reader: Plugin = () => ({
  onRequest(request) {
    request.headers.set('x-seen', request.query.getAll('a').join('+'));
    if (request.path === '/strip') request.query.delete('token');
    // A JavaScript plugin's slip the types would have caught: an ArrayBuffer for a body.
    if (request.path === '/buffer') return { status: 200, body: new ArrayBuffer(3) as unknown as Uint8Array };
  },
});

describe("a plugin's request.query", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('reader', reader));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('is read as the upstream receives it', async () => {
    const res = await request(gw.url, { path: '/read?a=1&b=2&a=3' });
    assert.equal(res.status, 200);
    assert.equal(app.received.at(-1)?.headers['x-seen'], '1+3');
  });

  test("a change to it is the plugin's bug: a 500 naming it, nothing sent upstream", async () => {
    const before = app.received.length;
    const res = await request(gw.url, { path: '/strip?token=secret&a=1' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="plugin:reader threw in onRequest"/);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.match(JSON.stringify(line), /request\.query\.delete\(\): the query is read only/);
    assert.equal(app.received.length, before, 'the request with its token never went upstream');
  });

  test('an answer whose body is no string or Uint8Array is its bug, said as such', async () => {
    const res = await request(gw.url, { path: '/buffer' });
    assert.equal(res.status, 500);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.match(
      JSON.stringify(line),
      /answered with a body that is an ArrayBuffer \(wrap it: new Uint8Array\(buffer\)\): give a string or a Uint8Array/,
    );
  });
});
