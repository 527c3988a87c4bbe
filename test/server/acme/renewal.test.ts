/** When a certificate is renewed, and the wait after a failed order: the schedule without a clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalTime, retryDelay } from '../../../src/server/acme/renewal.ts';

const DAY = 86_400_000;

test('two thirds into the lifetime by default; renew_before ahead of the end when set', () => {
  assert.equal(renewalTime(0, 90 * DAY, undefined), 60 * DAY);
  assert.equal(renewalTime(0, 90 * DAY, 10 * DAY), 80 * DAY);
});

test("the CA's window (ARI) decides when it offers one; renew_before still wins when it comes first", () => {
  for (let i = 0; i < 100; i++) {
    const at = renewalTime(0, 90 * DAY, undefined, { start: 70 * DAY, end: 71 * DAY });
    assert.ok(at >= 70 * DAY && at <= 71 * DAY, `${at} inside the window`);
  }
  assert.equal(renewalTime(0, 90 * DAY, 30 * DAY, { start: 70 * DAY, end: 71 * DAY }), 60 * DAY);
  const past = renewalTime(0, 90 * DAY, undefined, { start: -2 * DAY, end: -1 * DAY });
  assert.ok(past < 0, 'a window in the past: at once');
});

test("a window at or past the certificate's end (a CA's bug) renews in its last twentieth, not after it ends", () => {
  // The CA's word alone left it to end unrenewed: a window a year off, or one that merely
  // ends after not_after, renewed (at best) after every handshake had begun to fail.
  assert.equal(renewalTime(0, 90 * DAY, undefined, { start: 365 * DAY, end: 366 * DAY }), 85.5 * DAY);
  for (let i = 0; i < 100; i++) {
    const at = renewalTime(0, 90 * DAY, undefined, { start: 80 * DAY, end: 100 * DAY });
    assert.ok(at >= 80 * DAY && at <= 85.5 * DAY, `${at} inside the window, before the last twentieth`);
  }
});

test('a failed order is tried again after a minute, doubling, at most every 6 hours', () => {
  assert.deepEqual([1, 2, 3, 4].map(retryDelay), [60_000, 120_000, 240_000, 480_000]);
  assert.equal(retryDelay(20), 6 * 3_600_000);
});

test("never before the CA's Retry-After (a rate limit's end), waited for at most a week", () => {
  assert.equal(retryDelay(1, 3_600_000), 3_600_000);
  assert.equal(retryDelay(20, 3_600_000), 6 * 3_600_000, 'the backoff when it is longer');
  assert.equal(retryDelay(1, 400 * 86_400_000), 7 * 86_400_000);
});
