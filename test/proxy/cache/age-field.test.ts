/**
 * An upstream's Age the store counts from (RFC 9111 §5.1, §4.2.3): delta-seconds, one value (the
 * first of a list). One that is not (`-5`, `soon`) says nothing of how old the answer is, and
 * §5.1 has the cache "consider the response to be stale": it is revalidated before it is given,
 * never a hit for all of its max-age, and when it stands in for a failed upstream its Age is a
 * number of seconds (its time in the store), never the upstream's unreadable one nor a negative.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

for (const [sent, base] of [
  ['30', 30],
  ['30, 45', 30],
] as const) {
  test(`an upstream's Age: ${sent} is counted as ${base}: the hit's Age is seconds since ${base}, and its ttl the rest of max-age`, async () => {
    const { again: hit, upstream } = await cachedTwice(['Cache-Control', 'max-age=60', 'Age', sent]);
    assert.equal(hit.text, 'page');
    // Delta-seconds, never less than the Age counted from (seconds in the store may pass).
    assert.match(String(hit.headers.age), /^\d+$/);
    const age = Number(hit.headers.age);
    assert.ok(age >= base && age < base + 10, `Age: ${age}`);
    const ttl = Number(/^edge-1; hit; ttl=(-?\d+)$/.exec(String(hit.headers['cache-status']))?.[1]);
    assert.ok(Math.abs(ttl - (60 - age)) <= 1, `ttl=${ttl} with Age ${age}: never past max-age`);
    assert.equal(upstream, 1);
  });
}

for (const sent of ['-5', 'soon', '']) {
  test(`an answer with Age: ${JSON.stringify(sent)} is stale (RFC 9111 §5.1): the next request goes upstream`, async () => {
    const { again, upstream } = await cachedTwice(['Cache-Control', 'max-age=60', 'Age', sent]);
    assert.equal(again.headers['cache-status'], 'edge-1; fwd=stale');
    assert.equal(upstream, 2);
  });
}

test('an answer with Age: -5 stands in for a failed upstream with an Age of seconds in the store', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60', 'Age', '-5'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/a' });
  origin.mood = 'status_503';
  const stale = await request(gw.url, { path: '/pages/a' });
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'page');
  assert.match(
    String(stale.headers['cache-status']),
    /^edge-1; hit; fwd=stale; fwd-status=503; ttl=(0|-\d+)$/,
  );
  assert.match(String(stale.headers.age), /^\d+$/);
  assert.ok(Number(stale.headers.age) < 10, `Age: ${stale.headers.age}`);
});
