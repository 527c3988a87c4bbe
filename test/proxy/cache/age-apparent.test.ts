/**
 * A stored answer's age counts the origin's Date (RFC 9111 §4.2.3): apparent_age =
 * max(0, response_time - date_value), corrected_initial_age = max(apparent_age, age_value +
 * response_delay), current_age = corrected_initial_age + resident_time. An answer whose Date says
 * it was made 100 s ago is 100 s old on arrival; an upstream cache's Age counts as well; a Date
 * missing, unreadable or in the future adds nothing (apparent_age 0, the time it came as its Date).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/** An HTTP-date this many seconds from now (negative: past). */
function dateIn(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toUTCString();
}

/** The origin's answer with these fields, the gateway before it; the first request stores it, the second is returned. */
async function storedThenAsked(t: import('node:test').TestContext, fields: string[]) {
  const origin = await startMoodyOrigin({ status: 200, fields, body: 'page' });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  const first = await request(gw.url, { path: '/pages/dated' });
  assert.equal(first.status, 200);
  const next = await request(gw.url, { path: '/pages/dated' });
  return { origin, first, next };
}

/** Cache-Status's ttl of a hit, and its Age, as numbers. */
function hitOf(res: { headers: Record<string, unknown> }): { ttl: number; age: number } {
  const status = /^edge-1; hit; ttl=(-?\d+)$/.exec(String(res.headers['cache-status']));
  assert.ok(status, String(res.headers['cache-status']));
  assert.match(String(res.headers.age), /^\d+$/);
  return { ttl: Number(status[1]), age: Number(res.headers.age) };
}

test('an answer whose Date is 100 s old with max-age=60 is stale on arrival: the next request goes upstream', async (t) => {
  const { origin, next } = await storedThenAsked(t, ['Date', dateIn(-100), 'Cache-Control', 'max-age=60']);
  assert.equal(next.headers['cache-status'], 'edge-1; fwd=stale');
  assert.equal(origin.heads.length, 2);
});

test('an answer whose Date is 30 s old is 30 s old on its hit: Age and ttl count it', async (t) => {
  const { origin, next } = await storedThenAsked(t, ['Date', dateIn(-30), 'Cache-Control', 'max-age=600']);
  const { ttl, age } = hitOf(next);
  assert.ok(age >= 29 && age <= 31, `Age ${age}`);
  assert.ok(Math.abs(ttl - (600 - age)) <= 1, `ttl=${ttl}, Age ${age}`);
  assert.equal(origin.heads.length, 1);
});

test("an upstream cache's Age counts where it is more than the Date says", async (t) => {
  const { next } = await storedThenAsked(t, [
    'Date',
    dateIn(-10),
    'Age',
    '50',
    'Cache-Control',
    'max-age=600',
  ]);
  const { age } = hitOf(next);
  assert.ok(age >= 50 && age <= 52, `Age ${age}`);
});

test('the Date counts where it says more than the Age: the larger of the two', async (t) => {
  const { next } = await storedThenAsked(t, [
    'Date',
    dateIn(-100),
    'Age',
    '30',
    'Cache-Control',
    'max-age=600',
  ]);
  const { age } = hitOf(next);
  assert.ok(age >= 99 && age <= 101, `Age ${age}`);
});

test('a Date in the future adds nothing: the answer is as old as its Age, and fresh', async (t) => {
  const { origin, next } = await storedThenAsked(t, ['Date', dateIn(3600), 'Cache-Control', 'max-age=60']);
  const { age } = hitOf(next);
  assert.ok(age <= 1, `Age ${age}`);
  assert.equal(origin.heads.length, 1);
});

test('an unreadable Date adds nothing, and goes out as it came', async (t) => {
  const { origin, next } = await storedThenAsked(t, ['Date', 'yesterday', 'Cache-Control', 'max-age=60']);
  const { age } = hitOf(next);
  assert.ok(age <= 1, `Age ${age}`);
  assert.equal(next.headers.date, 'yesterday');
  assert.equal(origin.heads.length, 1);
});

test('a 304 without Date renews an answer whose Date was old: it is fresh again, not stale at once', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Date', dateIn(-100), 'Cache-Control', 'max-age=60', 'ETag', '"v1"'],
    body: 'page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/renewed' });
  // The 304 carries no Date (the moody origin sends only the answer's fields, less the old Date).
  origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=60', 'ETag', '"v1"'], body: 'page' };
  origin.notModifiedFor = '"v1"';
  const revalidated = await request(gw.url, { path: '/pages/renewed' });
  assert.equal(revalidated.status, 200);
  assert.equal(origin.heads.length, 2);
  const hit = await request(gw.url, { path: '/pages/renewed' });
  const { age } = hitOf(hit);
  assert.ok(age <= 1, `Age ${age}`);
  assert.equal(origin.heads.length, 2);
});
