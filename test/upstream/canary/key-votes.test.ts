/**
 * One vote a key a step across processes (issue 56 item 2): the windows of two workers that both
 * counted one key's request come to the controller with the key beside each outcome, and all
 * but the first are taken back; the keys never go further (the step's totals, the fleet's store).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CanaryWindow, mergeWindows } from '../../../src/upstream/canary/canary-window.ts';
import { oneVoteAKey } from '../../../src/upstream/canary/key-votes.ts';

test("a key two workers counted is one vote; another key's stays; a later window's repeat is taken back too", () => {
  const a = new CanaryWindow('stable', 'next');
  const b = new CanaryWindow('stable', 'next');
  a.forKey(7).record('next', undefined, 500, 12);
  b.forKey(7).record('next', undefined, 500, 12);
  // Key 8's one request, tried twice (a retry): both its attempts count, as any request's.
  const eight = b.forKey(8);
  eight.record('next', undefined, 200, 3);
  eight.record('next', undefined, 200, 4);
  a.record('stable', undefined, 200, 3); // an unkeyed draw: counted as ever
  const step = new Map<number, number>();
  const merged = mergeWindows([a.take(), b.take()]);
  assert.equal(merged.canary.requests, 4);
  oneVoteAKey(merged, step);
  assert.equal(merged.canary.requests, 3, "key 7's second request is taken back, key 8's two attempts stay");
  assert.equal(merged.canary.status_5xx, 1);
  // Key 8's two answers are latencies; key 7's 500 is its 5xx alone.
  assert.equal(
    merged.canary.latency.reduce((x, y) => x + y, 0),
    2,
  );
  assert.equal(merged.baseline.requests, 1);
  assert.equal(merged.canary.keys, undefined, 'the keys go no further');
  const later = new CanaryWindow('stable', 'next');
  later.forKey(7).record('next', undefined, 500, 12);
  const next = later.take();
  oneVoteAKey(next, step);
  assert.equal(next.canary.requests, 0);
  assert.equal(next.canary.status_5xx, 0);
});
