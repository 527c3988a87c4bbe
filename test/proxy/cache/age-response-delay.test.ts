/**
 * An upstream's Age is counted from when the request went upstream, not from when its answer
 * came (RFC 9111 §4.2.3: a cache "MUST interpret this value relative to the time the request was
 * initiated"; corrected_age_value = age_value + response_delay): the time the answer took to come
 * is part of its age, so an answer that was nearly stale when it left an upstream that took its
 * time is stale once here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

test('an answer with Age: 9 and max-age=10 that took 1.5 s to come is stale: the next request goes upstream', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=10', 'Age', '9'],
    body: 'page',
  });
  origin.delayMs = 1500;
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  const first = await request(gw.url, { path: '/pages/slow' });
  assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.equal(origin.heads.length, 1);
  const next = await request(gw.url, { path: '/pages/slow' });
  assert.equal(next.headers['cache-status'], 'edge-1; fwd=stale');
  assert.equal(origin.heads.length, 2);
});

test("an answer that took 1.5 s to come is that much older on its hit: Age counts the upstream's time", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'page',
  });
  origin.delayMs = 1500;
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/slow' });
  const hit = await request(gw.url, { path: '/pages/slow' });
  const cacheStatus = /^edge-1; hit; ttl=(\d+)$/.exec(String(hit.headers['cache-status']));
  assert.ok(cacheStatus, String(hit.headers['cache-status']));
  // At least the 1.5 s the upstream took (whole seconds: one or more), and max-age less that.
  assert.match(String(hit.headers.age), /^[1-9]\d*$/);
  const ttl = Number(cacheStatus[1]);
  assert.ok(Math.abs(ttl - (600 - Number(hit.headers.age))) <= 1, `ttl=${ttl}, Age ${hit.headers.age}`);
  assert.equal(origin.heads.length, 1);
});

test('an answer without Date that took its time keeps the time it came as its Date, not the time it was asked for', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'page',
  });
  origin.delayMs = 2500;
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  const miss = await request(gw.url, { path: '/pages/undated' });
  const hit = await request(gw.url, { path: '/pages/undated' });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  // The Date the gateway wrote on the miss, as it came (whole seconds: the same, or the next one).
  const written = Date.parse(String(miss.headers.date));
  const stored = Date.parse(String(hit.headers.date));
  assert.ok(Math.abs(stored - written) <= 1000, `Date ${hit.headers.date} beside ${miss.headers.date}`);
});
