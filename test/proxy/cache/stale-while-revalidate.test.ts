/**
 * stale-while-revalidate (RFC 5861 §3) on real sockets: a stored answer within its window is
 * given at once, saying so (`Cache-Status: edge-1; hit; fwd=stale`), and one refresh goes
 * upstream in the background with the stored answer's validators, however many requests come
 * meanwhile; the next request gets what the refresh brought.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const CONFIG = (url: string) => `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${url}
`;

/** Stale at once (max-age=0), and within stale-while-revalidate for a minute. */
const V1 = {
  status: 200,
  fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=60', 'ETag', '"v1"'],
  body: 'page v1',
};

test('within stale-while-revalidate: 5 concurrent requests get the stored answer at once, the upstream sees one revalidation, and the next request gets its fresh answer', async (t) => {
  const origin = await startMoodyOrigin(V1);
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/s' })).text, 'page v1');
  // The refresh is slow: every request below is answered while it is under way.
  origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=60', 'ETag', '"v2"'], body: 'page v2' };
  origin.delayMs = 300;
  const served = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      request(gw.url, { path: '/pages/s', headers: { 'x-request-id': `swr-${i}` } }),
    ),
  );
  for (const res of served) {
    assert.equal(res.status, 200);
    assert.equal(res.text, 'page v1');
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
    assert.match(String(res.headers.age), /^\d+$/);
  }
  for (let i = 0; i < 5; i++) {
    const line = await gw.logFor(`swr-${i}`);
    assert.equal(line.cache, 'stale');
    assert.equal(line.attempts, 0, 'the client waited for no upstream');
  }
  await waitUntil('the refresh stored its answer', () => origin.heads.length === 2, 5000);
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im, "the refresh sent the stored answer's validator");
  origin.delayMs = 0;
  // The refresh's own line (a request of the gateway's), then the next request gets its answer.
  await waitUntil('the refresh is logged', () => gw.logs.filter((l) => l.cache === 'fwd=stale').length === 1);
  const next = await request(gw.url, { path: '/pages/s' });
  assert.equal(next.text, 'page v2');
  assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(origin.heads.length, 2, 'exactly one revalidation reached the upstream');
});

test('a refresh answered 304 makes the stored answer fresh again: the next request is a hit, and the upstream saw one revalidation', async (t) => {
  const origin = await startMoodyOrigin({
    ...V1,
    fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=60', 'ETag', '"v1"'],
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/n' });
  origin.answer = { ...V1, fields: ['Cache-Control', 'max-age=60', 'ETag', '"v1"'] };
  origin.notModifiedFor = '"v1"';
  const stale = await request(gw.url, { path: '/pages/n' });
  assert.equal(stale.text, 'page v1');
  assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; /);
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.cache === 'revalidated'));
  const next = await request(gw.url, { path: '/pages/n' });
  assert.equal(next.text, 'page v1');
  assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(origin.heads.length, 2);
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
});

test('past the stale-while-revalidate window the request revalidates itself and waits for it', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0', 'ETag', '"v1"'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/w' });
  origin.notModifiedFor = '"v1"';
  const again = await request(gw.url, { path: '/pages/w' });
  assert.match(String(again.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; /);
});

test("a refresh that fails is logged with its failure and counted as no stale answer: nobody was given one in the failure's place", async (t) => {
  const origin = await startMoodyOrigin(V1);
  t.after(() => origin.stop());
  const gw = await startTestGateway(`metrics:\n  listen: 127.0.0.1:0\n${CONFIG(origin.url)}`);
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/f' });
  await origin.stop();
  const served = await request(gw.url, { path: '/pages/f' });
  assert.equal(served.text, 'page v1');
  assert.match(String(served.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
  await waitUntil('the refresh is logged', () =>
    gw.logs.some((l) => l.cache !== undefined && l.error !== undefined),
  );
  const refresh = gw.logs.find((l) => l.error !== undefined) as Record<string, unknown>;
  assert.equal(refresh.error, 'connection_refused');
  assert.equal(refresh.status, 502);
  assert.equal(refresh.cache, 'fwd=stale');
  assert.equal(refresh.stale_cause, undefined);
  const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
  assert.equal(
    sampleValue(all, 'candor_cache_stale_total', { route: 'pages', cause: 'connection_refused' }),
    undefined,
  );
  assert.deepEqual(gw.gateway.status().routes.pages.cache?.stale, {});
});

test("a refresh started by an only-if-cached request does not carry that client's cache directives upstream", async (t) => {
  const origin = await startMoodyOrigin(V1);
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/o' });
  const res = await request(gw.url, {
    path: '/pages/o',
    headers: { 'cache-control': 'only-if-cached', pragma: 'no-cache' },
  });
  assert.equal(res.text, 'page v1');
  assert.match(String(res.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
  await waitUntil('the refresh reached the upstream', () => origin.heads.length === 2, 5000);
  // A cache behind the gateway would answer only-if-cached with its own 504: the refresh is the gateway's request.
  assert.doesNotMatch(origin.heads[1], /^cache-control:/im);
  assert.doesNotMatch(origin.heads[1], /^pragma:/im);
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
});

test('with cache.stale_if_error: 0s an answer is still given within its own stale-while-revalidate, the upstream down or not; past it, a failure gets its own answer', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=60'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(CONFIG(origin.url).replace('cache: {}', 'cache: { stale_if_error: 0s }'));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/z' });
  // Another page stored stale at once, with no stale-while-revalidate (and a validator, which
  // would keep it for stale_if_error: 0s keeps it for nothing).
  origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=0', 'ETag', '"n1"'], body: 'page n1' };
  await request(gw.url, { path: '/pages/n' });
  origin.mood = 'status_503';
  const swr = await request(gw.url, { path: '/pages/z' });
  assert.equal(swr.text, 'page v1');
  assert.match(String(swr.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
  const failed = await request(gw.url, { path: '/pages/n' });
  assert.equal(failed.status, 503);
  assert.equal(failed.text, 'down');
  assert.match(String(failed.headers['cache-status']), /^edge-1; fwd=uri-miss$/);
});

test("a client's max-stale=N the answer is past, or its max-age, refuses it stale within stale-while-revalidate: revalidated first (RFC 9111 §5.2.1.1, §5.2.1.2)", async (t) => {
  // 30 s stale on arrival (its Age), within its window of ten minutes.
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=600', 'Age', '30', 'ETag', '"v1"'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  origin.notModifiedFor = '"v1"';
  const gw = await startTestGateway(CONFIG(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/c' });
  // A max-stale it is within takes it as it is: no refresh.
  const within = await request(gw.url, { path: '/pages/c', headers: { 'cache-control': 'max-stale=60' } });
  assert.match(String(within.headers['cache-status']), /^edge-1; hit; ttl=-3\d$/);
  assert.equal(origin.heads.length, 1);
  for (const [asked, upstream] of [
    ['max-stale=10', 2],
    ['max-age=100', 3],
  ] as const) {
    const res = await request(gw.url, { path: '/pages/c', headers: { 'cache-control': asked } });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'page v1');
    assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=-3\d$/, asked);
    assert.equal(origin.heads.length, upstream, `${asked}: the client waited for the revalidation`);
    assert.match(origin.heads[upstream - 1], /^if-none-match: "v1"$/im);
  }
  // A max-age beside a max-stale of no number takes any staleness (§5.2.1.1): given as it is.
  const any = await request(gw.url, {
    path: '/pages/c',
    headers: { 'cache-control': 'max-age=100, max-stale' },
  });
  assert.equal(any.text, 'page v1');
  assert.match(String(any.headers['cache-status']), /^edge-1; hit; /);
  assert.equal(origin.heads.length, 3, 'no revalidation before the answer');
  // Without either, it is given stale and refreshed behind it.
  const plain = await request(gw.url, { path: '/pages/c' });
  assert.match(String(plain.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-3\d$/);
  await waitUntil('the refresh reached the upstream', () => origin.heads.length === 4, 5000);
});
