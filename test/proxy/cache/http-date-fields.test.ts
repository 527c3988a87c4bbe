/**
 * The dates a stored answer's freshness is read from, `Expires`, `Date` and `Last-Modified`, are
 * HTTP-dates (RFC 9110 §5.6.7), and only HTTP-dates: the library read them with `Date.parse`,
 * which takes far more. An `Expires` that is no HTTP-date (`UTC` for `GMT`, no comma, spaces
 * doubled, a one-digit hour) "MUST" be read as a time in the past (RFC 9111 §5.3): it was a hit
 * until 2050. One in the obsolete RFC 850 form, which a recipient "MUST accept" (§5.6.7), two-digit
 * year and all, was read in 1950: never fresh. A `Date` that is no HTTP-date adds nothing to the
 * age (`Date: 2026` made a minute's answer ten months old), and a `Last-Modified` that is none
 * grants no heuristic freshness. The names' case aside (`THU`, `AUG`, `gmt`): they name one date.
 * Cases as the http-tests cache-tests suite groups them (expires-parse, date).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertHitOf, cachedTwice } from '../../helpers/cached-twice.ts';

const inAMinute = () => new Date(Date.now() + 60_000).toUTCString();
const hourAgo = () => new Date(Date.now() - 3_600_000).toUTCString();
const tenDaysAgo = () => new Date(Date.now() - 864_000_000).toUTCString();

for (const expires of [
  'Thu, 18 Aug 2050 02:01:18 UTC',
  'Thu, 18 Aug 2050 02:01:18 +0000',
  'Thu 18 Aug 2050 02:01:18 GMT',
  'Thu, 18  Aug  2050 02:01:18 GMT',
  'Thu, 18-Aug-2050 02:01:18 GMT',
  'Thu, 18 Aug 2050 2:01:18 GMT',
  '2050-08-18T02:01:18Z',
  '2050',
]) {
  test(`an Expires that is no HTTP-date (${expires}) is in the past: the answer is stale, the next request goes upstream`, async () => {
    const { again, upstream } = await cachedTwice(['Date', new Date().toUTCString(), 'Expires', expires]);
    assert.equal(again.headers['cache-status'], 'edge-1; fwd=stale');
    assert.equal(upstream, 2);
  });
}

for (const expires of [
  'Thursday, 18-Aug-50 02:01:18 GMT',
  'Thu Aug 18 02:01:18 2050',
  'THU, 18 AUG 2050 02:01:18 gmt',
]) {
  test(`an Expires in 2050 written ${expires} is an HTTP-date: the answer is fresh, a hit`, async () => {
    const { again, upstream } = await cachedTwice(['Date', new Date().toUTCString(), 'Expires', expires]);
    assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=\d{9}$/);
    assert.equal(upstream, 1);
  });
}

test('an Expires a minute ahead, in the RFC 850 form: a hit for the minute', async () => {
  // RFC 850's two-digit year names the year within the next 50 (RFC 9110 §5.6.7).
  const at = new Date(Date.now() + 60_000);
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const [, day, month, year, time] = /^\w+, (\d\d) (\w+) \d\d(\d\d) (\S+) GMT$/.exec(at.toUTCString()) ?? [];
  const rfc850 = `${days[at.getUTCDay()]}, ${day}-${month}-${year} ${time} GMT`;
  const date = new Date().toUTCString();
  const { again, upstream } = await cachedTwice(['Date', date, 'Expires', rfc850]);
  assertHitOf(again, (Date.parse(at.toUTCString()) - Date.parse(date)) / 1000, date);
  assert.equal(upstream, 1);
});

for (const date of ['2026', hourAgo().replace('GMT', 'UTC'), 'Mon, 01 Jan 2024 00:00:00 +0000']) {
  test(`a Date that is no HTTP-date (${date}) adds nothing to the age: max-age=60 is a hit`, async () => {
    const { again, upstream } = await cachedTwice(['Date', date, 'Cache-Control', 'max-age=60']);
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), 'edge-1; hit; ttl=60');
    assert.equal(again.headers.date, date);
    assert.equal(upstream, 1);
  });
}

test('a Last-Modified that is no HTTP-date grants no heuristic freshness: the next request goes upstream', async () => {
  const modified = tenDaysAgo().replace('GMT', 'UTC');
  const { again, upstream } = await cachedTwice([
    'Date',
    new Date().toUTCString(),
    'Last-Modified',
    modified,
  ]);
  assert.equal(again.headers['cache-status'], 'edge-1; fwd=stale');
  assert.equal(again.headers['last-modified'], modified);
  assert.equal(upstream, 2);
});

test('a Last-Modified ten days old, an HTTP-date, is heuristically fresh (a day at most): a hit', async () => {
  const { again, upstream } = await cachedTwice([
    'Date',
    new Date().toUTCString(),
    'Last-Modified',
    tenDaysAgo(),
  ]);
  assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=86(39\d|400)$/);
  assert.equal(upstream, 1);
});

test('an Expires that is an HTTP-date a minute ahead is a hit; its field goes out as it came', async () => {
  const expires = inAMinute();
  const date = new Date().toUTCString();
  const { again, upstream } = await cachedTwice(['Date', date, 'Expires', expires]);
  assertHitOf(again, (Date.parse(expires) - Date.parse(date)) / 1000, date);
  assert.equal(again.headers.expires, expires);
  assert.equal(upstream, 1);
});

test('a stored Last-Modified that is no HTTP-date meets no client condition: If-Modified-Since gets the whole answer, If-Unmodified-Since passes', async () => {
  // Date.parse read `2026` as its first instant: a client's later If-Modified-Since got a 304 of a
  // date the origin never named (RFC 9110 §13.1.3: with no modification date nothing is compared).
  const fields = ['Cache-Control', 'max-age=60', 'Last-Modified', '2026'];
  const since = await cachedTwice(fields, { 'if-modified-since': 'Mon, 30 Nov 2026 00:00:00 GMT' });
  assert.equal(since.again.status, 200);
  assert.equal(since.again.text, 'page');
  const unmodified = await cachedTwice(fields, { 'if-unmodified-since': 'Thu, 01 Jan 2025 00:00:00 GMT' });
  assert.equal(unmodified.again.status, 200);
});
