/**
 * When discovery asks DNS again (question-schedule.ts), with the spread's random draw given:
 * after a failure `interval` doubles at each failure in a row up to `max_ttl`, spread ±20 %;
 * after an answer its TTL (held within `min_ttl`…`max_ttl`) or `interval`, spread ±10 %.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterAnswer, afterFailure } from '../../../src/upstream/discovery/question-schedule.ts';

const config = { interval: 5_000, minTtl: 1_000, maxTtl: 60_000 };
const middle = () => 0.5;
const lowest = () => 0;
const highest = () => 0.999_999;

test('after failures in a row, interval doubles up to max_ttl (5 s, 10 s, 20 s, 40 s, 60 s, 60 s)', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 50, 5000].map((n) => afterFailure(config, n, middle)),
    [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000],
  );
});

test('the backoff is spread ±20 % (gateways restarted together drift apart), never past max_ttl', () => {
  assert.equal(afterFailure(config, 1, lowest), 4_000);
  assert.equal(Math.round(afterFailure(config, 1, highest)), 6_000);
  assert.equal(afterFailure(config, 3, lowest), 16_000);
  assert.equal(Math.round(afterFailure(config, 3, highest)), 24_000);
  assert.equal(afterFailure(config, 5, lowest), 48_000);
  assert.equal(afterFailure(config, 5, highest), 60_000);
});

test('an interval above max_ttl is the cap itself: a failure is never asked again sooner than interval', () => {
  const long = { interval: 120_000, minTtl: 1_000, maxTtl: 60_000 };
  assert.equal(afterFailure(long, 1, middle), 120_000);
  assert.equal(afterFailure(long, 4, middle), 120_000);
});

test('an interval of 0 does not make the backoff NaN', () => {
  assert.equal(afterFailure({ ...config, interval: 0 }, 40, middle), 0);
});

test('after an answer, its TTL held within min_ttl…max_ttl, spread ±10 % but never past max_ttl nor before min_ttl', () => {
  assert.equal(afterAnswer(config, 30, middle), 30_000);
  assert.equal(afterAnswer(config, 30, lowest), 27_000);
  assert.equal(Math.round(afterAnswer(config, 30, highest)), 33_000);
  assert.equal(afterAnswer(config, 3600, highest), 60_000);
  assert.equal(afterAnswer(config, 3600, lowest), 54_000);
  assert.equal(afterAnswer(config, 0, lowest), 1_000);
  assert.equal(Math.round(afterAnswer(config, 0, highest)), 1_100);
});

test('an answer without a TTL (SRV) is asked again every interval, spread ±10 %', () => {
  assert.equal(afterAnswer(config, undefined, middle), 5_000);
  assert.equal(afterAnswer(config, undefined, lowest), 4_500);
  assert.equal(Math.round(afterAnswer(config, undefined, highest)), 5_500);
});

test('a spread never takes a delay past the longest a timer waits (an interval of 596h stays a wait, not 1 ms)', () => {
  const longest = { interval: 596 * 3_600_000, minTtl: 1_000, maxTtl: 60_000 };
  assert.equal(afterAnswer(longest, undefined, highest), 596 * 3_600_000);
  assert.equal(afterFailure(longest, 1, highest), 596 * 3_600_000);
});
