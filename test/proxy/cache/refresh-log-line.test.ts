/**
 * A stale answer's background refresh (stale-while-revalidate) is a request the gateway makes
 * itself: its access-log line says so (`background`, `for_req_id` naming the client's request
 * it was made from) and does not pass for a client's: no `client` address of a client that never
 * sent it, no `client_req_id`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a background refresh's log line names it the gateway's own, and the client's request it was made for", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=60', 'ETag', '"v1"'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/r' });
  origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=60', 'ETag', '"v2"'], body: 'page v2' };
  const stale = await request(gw.url, { path: '/pages/r', headers: { 'x-request-id': 'from-the-client' } });
  assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
  const client = await gw.logFor('from-the-client');
  assert.equal(client.client, '127.0.0.1');
  assert.equal(client.client_req_id, 'from-the-client');
  assert.equal(client.background, undefined);
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.cache === 'fwd=stale'), 15_000);
  const refresh = gw.logs.find((l) => l.cache === 'fwd=stale') as Record<string, unknown>;
  assert.equal(refresh.background, 'refresh');
  assert.equal(refresh.for_req_id, client.req_id);
  assert.equal(refresh.client, undefined, 'no client sent it');
  assert.equal(refresh.client_req_id, undefined);
  assert.notEqual(refresh.req_id, client.req_id);
  assert.equal(refresh.method, 'GET');
  assert.equal(refresh.path, '/pages/r');
  assert.equal(refresh.status, 200);
  assert.equal(refresh.attempts, 1);
  assert.equal(refresh.error, undefined);
  // What reached the upstream: the refresh under its own id, with the stored answer's validator.
  assert.equal(origin.heads.length, 2);
  assert.match(origin.heads[1], new RegExp(`^x-request-id: ${refresh.req_id}$`, 'im'));
  assert.doesNotMatch(origin.heads[1], /from-the-client/);
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
});
