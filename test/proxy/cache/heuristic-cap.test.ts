/**
 * Heuristic freshness (RFC 9111 §4.2.2): an answer with Last-Modified and no max-age, s-maxage or
 * Expires is fresh for 10% of its Last-Modified's age, never more than a day (HEURISTIC_CAP).
 * Uncapped, a file last changed 10 years ago was fresh for a year.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertHitOf, cachedTwice } from '../../helpers/cached-twice.ts';

const DAY = 86_400_000;

for (const [what, age, lifetime] of [
  ['10 years ago: fresh for a day, not a year', 3650 * DAY, 86_400],
  ['2 days ago: fresh for 10% of that (4.8 h), under the cap', 2 * DAY, 17_280],
] as const) {
  test(`an answer last modified ${what}`, async () => {
    const now = Date.now();
    const date = new Date(now).toUTCString();
    const { again, upstream } = await cachedTwice([
      'Date',
      date,
      'Last-Modified',
      new Date(now - age).toUTCString(),
    ]);
    assertHitOf(again, lifetime, date);
    assert.equal(again.headers['cache-control'], undefined);
    assert.equal(upstream, 1);
  });
}

test('an explicit max-age past a day is not capped', async () => {
  const { again } = await cachedTwice([
    'Cache-Control',
    'max-age=172800',
    'Last-Modified',
    new Date(Date.now() - 3650 * DAY).toUTCString(),
  ]);
  assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=(172799|172800)$/);
});
