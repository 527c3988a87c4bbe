/**
 * Cache-Status's `fwd` (RFC 9211 §2.2) says why a request went upstream: a fresh stored answer
 * the client's own directives refused (`max-age=N` it is older than, `min-fresh`) is
 * `fwd=request`, whether the upstream answers anew or confirms the stored one with a 304; a
 * stored answer past its freshness is `fwd=stale`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/** Fresh for 600 s, 300 s old already (an Age from a cache before the origin). */
const HALF_FRESH = {
  status: 200,
  fields: ['Cache-Control', 'max-age=600', 'Age', '300', 'ETag', '"a"'],
  body: 'page a',
};

test("a fresh stored answer refused by the client's max-age=N or min-fresh goes upstream as fwd=request, a 304 or a new answer alike", async (t) => {
  const origin = await startMoodyOrigin(HALF_FRESH);
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/a' });
  assert.match(
    String((await request(gw.url, { path: '/pages/a' })).headers['cache-status']),
    /^edge-1; hit; ttl=30\d$/,
  );
  origin.notModifiedFor = '"a"';
  for (const directive of ['max-age=10', 'min-fresh=400']) {
    const res = await request(gw.url, { path: '/pages/a', headers: { 'cache-control': directive } });
    assert.equal(res.text, 'page a');
    assert.match(
      String(res.headers['cache-status']),
      /^edge-1; fwd=request; fwd-status=304; ttl=\d+$/,
      directive,
    );
  }
  origin.notModifiedFor = undefined;
  const anew = await request(gw.url, { path: '/pages/a', headers: { 'cache-control': 'max-age=10' } });
  assert.equal(anew.headers['cache-status'], 'edge-1; fwd=request');
  assert.equal(origin.heads.length, 4);
});

test('a stale stored answer goes upstream as fwd=stale, whatever the client asked besides', async (t) => {
  const origin = await startMoodyOrigin({
    ...HALF_FRESH,
    fields: ['Cache-Control', 'max-age=0', 'ETag', '"a"'],
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/s' });
  const res = await request(gw.url, { path: '/pages/s', headers: { 'cache-control': 'max-age=10' } });
  assert.equal(res.headers['cache-status'], 'edge-1; fwd=stale');
});
