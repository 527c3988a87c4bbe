/**
 * A canary's window (issue 36, item 2): each attempt counted once on its side by its failure's
 * shape, the client's own doings not at all, the latency sample bounded whatever the rate, and
 * windows of several processes merged into one; judge() decides nothing below min_requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
import type { CanaryConfig } from '../../../src/core/config/types.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import { CanaryWindow, mergeWindows } from '../../../src/upstream/canary/canary-window.ts';
import { judgeWindow } from '../../../src/upstream/canary/judge.ts';
import {
  BUCKET_VALUES,
  bucketOf,
  LATENCY_BUCKETS,
  tallied,
} from '../../../src/upstream/canary/latency-tally.ts';

const CONFIG: CanaryConfig = {
  upstream: 'next',
  steps: [10],
  stepInterval: 1000,
  checkInterval: 1000,
  minRequests: 50,
  maxDuration: 60_000,
  compare: [...DEFAULTS.canary.compare],
  confidence: 0.99,
  latencyMargin: 20,
  latencyP99Factor: 2,
  baselineMaxFailedPercent: 10,
  onFailure: 'rollback',
  onSuccess: 'promote',
};

test('each attempt is counted once, on its side, by its shape; the client leaving counts nowhere', () => {
  const window = new CanaryWindow('stable', 'next');
  window.record('next', new Failure('connection_terminated', 'reset'), undefined, 3);
  window.record('next', new Failure('connection_refused', 'refused'), undefined, 1);
  window.record('next', new Failure('http_response_timeout', 'late'), undefined, 1000);
  window.record('next', new Failure('http_protocol_error', 'garbage'), undefined, 2);
  window.record('next', new Failure('destination_unavailable', 'no target'), undefined, 0);
  window.record('next', new Failure('client_closed', 'left'), undefined, 5);
  window.record('next', undefined, 503, 7);
  window.record('stable', undefined, 200, 4);
  window.record('elsewhere', undefined, 200, 4);
  const { canary, baseline } = window.take();
  assert.deepEqual(
    { ...canary, latency: undefined },
    {
      requests: 6,
      unreachable: 1,
      slow: 1,
      reset: 1,
      garbage: 1,
      status_5xx: 1,
      gateway: 1,
      // A route canary's window has no way to count the gateway's own 500s: its plugins are neither side's.
      gateway_error: 0,
      latency: undefined,
    },
  );
  // The 503 is a status_5xx, no latency: a fast error is no fast answer (fast-errors.test.ts).
  // The head the response timeout gave up on is the wait's latency sample besides its `slow`:
  // the answer came no sooner (timed-out-heads.test.ts).
  assert.equal(tallied(canary.latency), 1);
  assert.equal(canary.latency[bucketOf(1000)], 1);
  // So is a body timeouts.read cut (stalled-body.test.ts), its `slow` besides.
  window.record('next', new Failure('connection_read_timeout', 'stalled'), 200, 800);
  const stalled = window.take().canary;
  assert.deepEqual(
    [stalled.requests, stalled.slow, tallied(stalled.latency), stalled.latency[bucketOf(800)]],
    [1, 1, 1, 1],
  );
  assert.equal(tallied(baseline.latency), 1);
  assert.equal(baseline.latency[bucketOf(4)], 1);
  assert.equal(baseline.requests, 1);
  assert.equal(window.take().canary.requests, 0, 'take() starts a new window');
});

test('every response is tallied, in a window of the same size whatever the rate; merged windows add up', () => {
  const busy = new CanaryWindow('stable', 'next');
  const idle = new CanaryWindow('stable', 'next');
  for (let i = 0; i < 30_000; i++) busy.record('next', undefined, 200, 10);
  for (let i = 0; i < 10; i++) idle.record('next', undefined, 200, 500);
  const a = busy.take();
  const b = idle.take();
  assert.equal(a.canary.latency.length, LATENCY_BUCKETS);
  assert.equal(b.canary.latency.length, LATENCY_BUCKETS);
  const merged = mergeWindows([a, b]);
  assert.equal(merged.canary.requests, 30_010);
  assert.equal(merged.canary.latency.length, LATENCY_BUCKETS);
  assert.equal(merged.canary.latency[bucketOf(10)], 30_000);
  assert.equal(merged.canary.latency[bucketOf(500)], 10);
  assert.equal(tallied(merged.canary.latency), 30_010);
  // A bucket's value is within its 2.2 % width of what was counted there.
  assert.ok(Math.abs(BUCKET_VALUES[bucketOf(10)] / 10 - 1) < 0.022);
  assert.ok(Math.abs(BUCKET_VALUES[bucketOf(500)] / 500 - 1) < 0.022);
});

test('judge: nothing below min_requests; 5 % resets against none is worse on reset; alike is a pass', () => {
  const window = new CanaryWindow('stable', 'next');
  for (let i = 0; i < 40; i++) window.record('next', undefined, 200, 5);
  for (let i = 0; i < 400; i++) window.record('stable', undefined, 200, 5);
  const few = judgeWindow(window.take(), CONFIG);
  assert.deepEqual(few, { decided: false, requests: { canary: 40, baseline: 400 } });

  for (let i = 0; i < 100; i++)
    window.record('next', i % 20 === 0 ? new Failure('connection_terminated', 'reset') : undefined, 200, 5);
  for (let i = 0; i < 900; i++) window.record('stable', undefined, 200, 5);
  const resets = judgeWindow(window.take(), CONFIG);
  assert.equal(resets.decided, true);
  assert.equal(resets.decided && resets.worse?.metric, 'reset');
  assert.equal(resets.decided && resets.worse?.canary, '5/100 (5.00%)');

  for (let i = 0; i < 100; i++) window.record('next', undefined, 200, 5 + (i % 7));
  for (let i = 0; i < 900; i++) window.record('stable', undefined, 200, 5 + (i % 7));
  const alike = judgeWindow(window.take(), CONFIG);
  assert.equal(alike.decided && alike.worse, undefined);
});

test('judge: a side with no answer has no median: its latency figure says so, not 0.0 ms (faster than any)', () => {
  const window = new CanaryWindow('stable', 'next');
  for (let i = 0; i < 60; i++)
    window.record('next', new Failure('connection_refused', 'refused'), undefined, 1);
  for (let i = 0; i < 60; i++) window.record('stable', undefined, 200, 5);
  const judged = judgeWindow(window.take(), CONFIG);
  assert.equal(judged.decided, true);
  const latency = judged.decided ? judged.metrics.find((m) => m.metric === 'latency') : undefined;
  assert.deepEqual(
    { canary: latency?.canary, p: latency?.p, worse: latency?.worse },
    { canary: 'no answers (0 samples)', p: 1, worse: false },
  );
  assert.match(String(latency?.baseline), /^median 5\.\d ms \(60 samples\)$/);
});

test('judge on latency alone: a canary that answered fewer than min_requests is not passed on the answers it did not give', () => {
  const latencyOnly: CanaryConfig = { ...CONFIG, compare: ['latency'] };
  const window = new CanaryWindow('stable', 'next');
  for (let i = 0; i < 60; i++)
    window.record('next', new Failure('connection_refused', 'refused'), undefined, 1);
  for (let i = 0; i < 60; i++) window.record('stable', undefined, 200, 5);
  const refused = window.take();
  assert.deepEqual(judgeWindow(refused, latencyOnly), {
    decided: false,
    requests: { canary: 60, baseline: 60 },
    answers: 0,
    errors: 0,
  });
  // With the failure shapes compared too, its refusals decide at once: worse on unreachable.
  const all = judgeWindow(refused, CONFIG);
  assert.equal(all.decided && all.worse?.metric, 'unreachable');
  // Answered min_requests, it is judged on them (the latency_p99 likewise).
  for (let i = 0; i < 50; i++) window.record('next', undefined, 200, 5);
  for (let i = 0; i < 60; i++) window.record('stable', undefined, 200, 5);
  const answered = judgeWindow(window.take(), { ...CONFIG, compare: ['latency_p99'] });
  assert.equal(answered.decided, true);
  assert.equal(answered.decided && answered.worse, undefined);
});
