/**
 * routes[].compression and a cache's background refresh (stale-while-revalidate): the refresh
 * is a request of the gateway's own whose answer nobody reads (the cache stores its identity
 * body), so it is not compressed. It was: the whole body went through the route's compressor
 * for nothing, and the refresh's log line said `encoding` with bytes that reached no one.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import zlib from 'node:zlib';
import { request } from '../../helpers/http-client.ts';
import { type MoodyOrigin, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const TEXT = 'Candor never lies about a failure. '.repeat(60);

const GZIP = { 'accept-encoding': 'gzip' };

/** An origin whose answer is stale at once but within stale-while-revalidate, behind a caching, compressing route; its first answer stored. */
async function staleStored(t: TestContext): Promise<{ origin: MoodyOrigin; gw: TestGateway }> {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: [
      'Content-Type',
      'text/plain',
      'Cache-Control',
      'max-age=0, stale-while-revalidate=60',
      'ETag',
      '"v1"',
    ],
    body: TEXT,
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    cache: {}
    compression: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  t.after(() => gw.close());
  await request(gw.url, { path: '/page', headers: GZIP });
  return { origin, gw };
}

test("a background refresh's answer is not compressed (nobody reads it); the client's next answer is, from the refreshed store", async (t) => {
  const { origin, gw } = await staleStored(t);
  origin.answer = {
    status: 200,
    fields: ['Content-Type', 'text/plain', 'Cache-Control', 'max-age=60', 'ETag', '"v2"'],
    body: `${TEXT}v2`,
  };
  const stale = await request(gw.url, { path: '/page', headers: GZIP });
  assert.match(String(stale.headers['cache-status']), /fwd=stale/);
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.cache === 'fwd=stale'));
  const refresh = gw.logs.find((l) => l.cache === 'fwd=stale');
  assert.equal(refresh?.status, 200);
  assert.equal(refresh?.encoding, undefined, 'the refresh compressed nothing');
  const next = await request(gw.url, {
    path: '/page',
    headers: { ...GZIP, 'x-request-id': 'after-refresh' },
  });
  assert.match(String(next.headers['cache-status']), /^edge-1; hit/);
  assert.equal(next.headers['content-encoding'], 'gzip');
  assert.equal(next.headers.etag, 'W/"v2"');
  assert.equal(
    zlib.gunzipSync(next.body).toString(),
    `${TEXT}v2`,
    'the store holds the identity body it refreshed',
  );
  assert.equal((await gw.logFor('after-refresh')).encoding, 'gzip');
  assert.equal(origin.heads.length, 2);
});

test('a background refresh answered 304 (the stored answer refreshed and sent to nobody) is not compressed either', async (t) => {
  const { origin, gw } = await staleStored(t);
  origin.notModifiedFor = '"v1"';
  await request(gw.url, { path: '/page', headers: GZIP });
  // The refresh's own line: the stored answer it revalidated, given to nobody.
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.cache === 'revalidated'));
  const refresh = gw.logs.find((l) => l.cache === 'revalidated');
  assert.match(origin.heads[1], /^if-none-match: "v1"$/im);
  assert.equal(refresh?.encoding, undefined, 'the refresh compressed nothing');
});
