/**
 * What a canary's look costs does not grow with the requests it judges (issue 36: the
 * controller's cost per request is one counter update and one latency sample, its periodic
 * part bounded whatever the rate). A window of a hundred responses and one of a hundred
 * thousand are read alike: a look adds the window to the step's totals in one pass over the
 * latency grid, and the judging reads each tally a fixed number of times. Counted by the
 * reads of the tallies, which are exact, not by time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
import type { CanaryConfig } from '../../../src/core/config/types.ts';
import { CanaryWindow, type WindowCounts } from '../../../src/upstream/canary/canary-window.ts';
import { judgeWindow } from '../../../src/upstream/canary/judge.ts';
import { LATENCY_BUCKETS } from '../../../src/upstream/canary/latency-tally.ts';
import { StepLooks } from '../../../src/upstream/canary/step-looks.ts';

const CONFIG: CanaryConfig = {
  upstream: 'next',
  steps: [10],
  stepInterval: 60_000,
  checkInterval: 1_000,
  minRequests: 50,
  maxDuration: 3_600_000,
  compare: [...DEFAULTS.canary.compare],
  confidence: 0.99,
  latencyMargin: 20,
  latencyP99Factor: 2,
  baselineMaxFailedPercent: 10,
  onFailure: 'rollback',
  onSuccess: 'promote',
};

/** A window of `responses` answers a side, latencies spread over 1 to 1000 ms, its tallies counting their reads. */
function countedWindow(responses: number): { window: WindowCounts; reads: () => number } {
  const source = new CanaryWindow('stable', 'next');
  for (let i = 0; i < responses; i++) {
    const ms = 1 + ((i * 7919) % 1000);
    source.record('next', undefined, 200, ms);
    source.record('stable', undefined, 200, ms);
  }
  const taken = source.take();
  let reads = 0;
  const counting = (tally: number[]) =>
    new Proxy(tally, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
  const window = {
    baseline: { ...taken.baseline, latency: counting(taken.baseline.latency) },
    canary: { ...taken.canary, latency: counting(taken.canary.latency) },
  };
  return { window, reads: () => reads };
}

test('a window is one tally of the grid a side, whatever the requests it counted', () => {
  for (const responses of [100, 100_000]) {
    const { window } = countedWindow(responses);
    assert.equal(window.canary.requests, responses);
    assert.equal(window.canary.latency.length, LATENCY_BUCKETS);
    assert.equal(window.baseline.latency.length, LATENCY_BUCKETS);
  }
});

test("a look reads a window's tallies once, bucket by bucket: the same for 100 responses as for 100 000, at the first look as at the fortieth", () => {
  const readsOfLook = (responses: number, lookNumber: number) => {
    const looks = new StepLooks(CONFIG);
    for (let i = 1; i < lookNumber; i++) looks.look(countedWindow(responses).window);
    const { window, reads } = countedWindow(responses);
    const look = looks.look(window);
    assert.equal(look.judged.decided, true);
    return reads();
  };
  const few = readsOfLook(100, 1);
  assert.equal(few, 2 * LATENCY_BUCKETS, 'each bucket of each side read once, to add it to the step');
  assert.equal(readsOfLook(100_000, 1), few);
  assert.equal(readsOfLook(100, 40), few);
  assert.equal(readsOfLook(100_000, 40), few);
});

test('judging a window reads its tallies a few passes over the grid, for 100 responses as for 200 000', () => {
  // The rank test's totals and its walk of both grids (each step takes a bucket of one side at
  // least, reading at most four counts), the medians, the tail's p99 and counts past it, and the
  // samples' counts: at most 16 reads
  // a bucket of the grid, in all, however many responses the buckets hold.
  const bound = 16 * LATENCY_BUCKETS;
  for (const responses of [100, 200_000]) {
    const { window, reads } = countedWindow(responses);
    const judged = judgeWindow(window, CONFIG);
    assert.equal(judged.decided && judged.worse, undefined, 'both sides alike: a pass');
    assert.ok(reads() <= bound, `${reads()} reads of the tallies for ${responses} responses a side`);
  }
});
