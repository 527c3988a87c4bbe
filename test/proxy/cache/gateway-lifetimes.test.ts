/**
 * Cache lifetimes the gateway sets (routes[].cache.lifetimes, as nginx's proxy_cache_valid), on
 * real sockets: a lifetime per status for answers the origin gave none, in place of the origin's
 * with override_origin, and stale_while_revalidate the route grants; each answer still says what
 * it is (Age, Cache-Status with its ttl), and the client gets the origin's fields, never a
 * Cache-Control the origin did not send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const CONFIG = (url: string, cache: string) => cachedPages(url, cache);

/** The ttl Cache-Status gives (seconds). */
function ttlOf(res: { headers: Record<string, unknown> }): number {
  const match = /; ttl=(-?\d+)/.exec(String(res.headers['cache-status']));
  assert.ok(match, `a ttl in ${res.headers['cache-status']}`);
  return Number(match[1]);
}

test('an answer the origin gave no lifetime is kept for the lifetime of its status: a hit with that ttl, the origin asked once, no Cache-Control made up', async (t) => {
  const origin = await startMoodyOrigin({ status: 200, fields: ['X-Page', 'a'], body: 'page a' });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url, '{ lifetimes: { 200: 10m, 404: 1m } }'));
  t.after(() => gw.close());
  const first = await request(gw.url, { path: '/pages/a' });
  assert.equal(first.status, 200);
  assert.match(String(first.headers['cache-status']), /^edge-1; fwd=uri-miss$/);
  const second = await request(gw.url, { path: '/pages/a' });
  assert.equal(second.status, 200);
  assert.equal(second.text, 'page a');
  assert.match(String(second.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.ok(ttlOf(second) > 590 && ttlOf(second) <= 600, `ttl ${ttlOf(second)} is the 10m lifetime`);
  assert.match(String(second.headers.age), /^\d+$/);
  assert.equal(second.headers['cache-control'], undefined, 'the origin sent none: none goes out');
  assert.equal(second.headers.expires, undefined);
  assert.equal(origin.heads.length, 1);
});

test("a 404 and a 302 are kept for their statuses' lifetimes; a status without one is kept as the origin says (here: not at all)", async (t) => {
  const origin = await startMoodyOrigin({ status: 404, fields: [], body: 'no such page' });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url, '{ lifetimes: { 404: 1m, 302: 30s } }'));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/gone' });
  const gone = await request(gw.url, { path: '/pages/gone' });
  assert.equal(gone.status, 404);
  assert.match(String(gone.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.ok(ttlOf(gone) <= 60 && ttlOf(gone) > 50);
  // A 302 with no lifetime of its own is one no cache keeps (RFC 9111 §3): the route's makes it one.
  origin.answer = { status: 302, fields: ['Location', '/pages/new'], body: '' };
  await request(gw.url, { path: '/pages/moved' });
  const moved = await request(gw.url, { path: '/pages/moved' });
  assert.equal(moved.status, 302);
  assert.equal(moved.headers.location, '/pages/new');
  assert.match(String(moved.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  // A 301 without a lifetime here or from the origin, and no Last-Modified: not kept.
  origin.answer = { status: 307, fields: ['Location', '/pages/other'], body: '' };
  await request(gw.url, { path: '/pages/temp' });
  const temp = await request(gw.url, { path: '/pages/temp' });
  assert.match(String(temp.headers['cache-status']), /^edge-1; fwd=uri-miss$/);
  assert.equal(origin.heads.length, 4, 'gone once, moved once, temp twice');
});

test("the origin's own lifetime stands unless override_origin: then the route's lifetime is used in its place", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'public, max-age=3600'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const own = await startTestGateway(CONFIG(origin.url, '{ lifetimes: { 200: 10s } }'));
  t.after(() => own.close());
  await request(own.url, { path: '/pages/p' });
  const kept = await request(own.url, { path: '/pages/p' });
  assert.ok(ttlOf(kept) > 3500, `the origin's hour stands: ttl ${ttlOf(kept)}`);

  const over = await startTestGateway(
    CONFIG(origin.url, '{ lifetimes: { 200: 10s }, override_origin: true }'),
  );
  t.after(() => over.close());
  await request(over.url, { path: '/pages/p' });
  const overridden = await request(over.url, { path: '/pages/p' });
  assert.ok(ttlOf(overridden) <= 10, `the route's 10 s in its place: ttl ${ttlOf(overridden)}`);
  assert.equal(
    overridden.headers['cache-control'],
    'public, max-age=3600',
    "the client gets the origin's field",
  );
});

test('override_origin never keeps what the origin forbids a shared cache: no-store, private, a Set-Cookie', async (t) => {
  const origin = await startMoodyOrigin({ status: 200, fields: ['Cache-Control', 'no-store'], body: 'mine' });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url, '{ lifetimes: { 200: 10m }, override_origin: true }'));
  t.after(() => gw.close());
  for (const fields of [
    ['Cache-Control', 'no-store'],
    ['Cache-Control', 'private, max-age=60'],
    ['Set-Cookie', 'session=1'],
  ]) {
    origin.answer = { status: 200, fields, body: 'mine' };
    const path = `/pages/${fields[1].replace(/\W/g, '')}`;
    await request(gw.url, { path });
    const again = await request(gw.url, { path });
    assert.doesNotMatch(String(again.headers['cache-status']), /hit/, `${fields.join(': ')} not kept`);
  }
  assert.equal(origin.heads.length, 6);
});

test('stale_while_revalidate the route grants: a stale answer is given at once saying so, one refresh goes upstream behind it, the next request gets the new one', async (t) => {
  const origin = await startMoodyOrigin({ status: 200, fields: [], body: 'page v1' });
  t.after(() => origin.stop());
  const gw = await startTestGateway(
    CONFIG(origin.url, '{ lifetimes: { 200: 1s }, stale_while_revalidate: 1m }'),
  );
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/s' });
  // Past its 1 s lifetime: stale, within the minute the route grants.
  await new Promise((resolve) => setTimeout(resolve, 1600));
  origin.answer = { status: 200, fields: [], body: 'page v2' };
  origin.delayMs = 200;
  const stale = await request(gw.url, { path: '/pages/s' });
  assert.equal(stale.text, 'page v1');
  assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-\d+$/);
  await waitUntil('the refresh stored its answer', () => origin.heads.length === 2, 5000);
  origin.delayMs = 0;
  await waitUntil(
    'the next request gets the refreshed answer',
    async () => {
      const res = await request(gw.url, { path: '/pages/s' });
      return res.text === 'page v2';
    },
    5000,
  );
  assert.equal(origin.heads.length, 2, 'one refresh reached the upstream');
});

test('stale_while_revalidate is not granted to an answer that must be revalidated once stale (must-revalidate): it waits for the upstream', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=1, must-revalidate'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url, '{ stale_while_revalidate: 1m }'));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/m' });
  await new Promise((resolve) => setTimeout(resolve, 2100));
  origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=60'], body: 'page v2' };
  const next = await request(gw.url, { path: '/pages/m' });
  assert.equal(next.text, 'page v2', 'the client waited for the new answer');
  assert.equal(origin.heads.length, 2);
});
