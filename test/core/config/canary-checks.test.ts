/**
 * A route's split and canary as `candor check` reads them (issue 36): each wrong field named
 * with its file line, the rules of canary-checks.ts, and what the loader makes of good ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE, withRoutes } from './config-fixture.ts';

test('a split or a canary that cannot run is refused, each problem on its line and field', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    split:
      - { upstream: api-nxt, weight: 10 }
      - { upstream: api-next }
      - { upstream: api-next }
  - match: { path: /b }
    split:
      - { upstream: api, weight: 0 }
  - match: { path: /c }
    canary: { upstream: api, steps: [5, 50, 25] }
    upstream: api
  - match: { path: /d }
    canary: { upstream: api-next, confidence: 1.5, on_failure: revert }
  - match: { path: /e }
    upstream: api
    hash_key: header:X-User
  - match: { path: /f }
    upstream: api
    canary: { upstream: api-next, compare: [reset, latency, p99] }
  - match: { path: /g }
    upstream: api
    canary: { upstream: api-next, step_interval: 10s, check_interval: 20s }
  - match: { path: /h }
    upstream: api
    canary: { upstream: api-next, check_interval: 100ms }
  - match: { path: /i }
    upstream: api
    canary: { upstream: api-next, step_interval: 10m, max_duration: 5m }
  - match: { path: /j }
    upstream: api
    canary:
      upstream: api-next
      steps: [10, 50]
      step_interval: 1m
      max_duration: 90s
  - match: { path: /k }
    upstream: api
    canary: { upstream: api-next, step_interval: 30m }
  - match: { path: /l }
    upstream: api
    canary: { upstream: api-next, steps: [10, 50], step_interval: 1m, max_duration: 2m }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].split: a route has an upstream or a split, not both',
      "7 routes[0].split[0].upstream: no upstream named 'api-nxt' (did you mean 'api-next'?)",
      "9 routes[0].split[2].upstream: upstream 'api-next' is in the split twice",
      '11 routes[1].split: every weight of the split is 0: no request could be sent anywhere',
      "14 routes[2].canary.upstream: the canary's upstream is the baseline itself ('api'): name the new version's",
      '14 routes[2].canary.steps[2]: expected a percent above the step before (50), got 25',
      "16 routes[3].upstream: missing required field 'upstream'",
      "17 routes[3].canary: a canary is compared with the route's upstream (the baseline): name it in upstream",
      '17 routes[3].canary.confidence: expected a confidence, a number from 0.5 to below 1 (like 0.99), got 1.5',
      '17 routes[3].canary.on_failure: expected one of rollback, pause, got "revert"',
      "20 routes[4].hash_key: a route's hash_key keeps one user on one side of its split or canary: add a split or a canary (an upstream's own hash_key picks its target)",
      '23 routes[5].canary.compare[2]: expected one of unreachable, slow, reset, garbage, status_5xx, gateway, latency, latency_p99, got "p99"',
      '26 routes[6].canary.check_interval: a step is looked at within its step_interval (10s): expected at most that, got 20s',
      '29 routes[7].canary.check_interval: 600 looks a step split the confidence too thin: expected at least 600ms (a hundredth of step_interval), got 100ms',
      '32 routes[8].canary.max_duration: the canary walks 3 steps of at least step_interval (10m) each, 30m in all: expected a max_duration of at least that, got 5m',
      '39 routes[9].canary.max_duration: the canary walks 2 steps of at least step_interval (1m) each, 2m in all: expected a max_duration of at least that, got 90s',
      '42 routes[10].canary.step_interval: the canary walks 3 steps of at least step_interval (30m) each, 90m in all: expected a max_duration of at least that, got 1h (the default)',
    ],
  );
});

test('a good split and canary load with their defaults; the split route names its first upstream', () => {
  const config = parseConfig(
    withRoutes(`  - name: shop
    match: { path: /shop }
    split:
      - { upstream: api, weight: 9 }
      - { upstream: api-next }
    hash_key: cookie:session
  - name: api
    match: { path: / }
    upstream: api
    canary: { upstream: api-next, step_interval: 2s }
`),
    SOURCE,
  );
  const [shop, api] = config.routes;
  assert.equal(shop.upstream, 'api');
  assert.deepEqual(shop.split, [
    { upstream: 'api', weight: 9 },
    { upstream: 'api-next', weight: 1 },
  ]);
  assert.deepEqual(shop.hashKey, { kind: 'cookie', name: 'session' });
  assert.deepEqual(api.canary, {
    upstream: 'api-next',
    steps: [5, 25, 50],
    stepInterval: 2000,
    checkInterval: 500, // a quarter of step_interval
    minRequests: 100,
    maxDuration: 3_600_000,
    compare: ['unreachable', 'slow', 'reset', 'garbage', 'status_5xx', 'gateway', 'latency', 'latency_p99'],
    confidence: 0.99,
    latencyMargin: 20,
    latencyP99Factor: 2,
    baselineMaxFailedPercent: 10,
    onFailure: 'rollback',
    onSuccess: 'promote',
  });
});

// Issue 56 item 13: Argo Rollouts users end their steps with 100 (`setWeight: 100`).
test('a last step of 100 is the promotion: [10, 50, 100] loads as written, walks two judged steps; 100 alone, or with on_success: hold, is refused', () => {
  const config = parseConfig(
    withRoutes(`  - name: api
    match: { path: / }
    upstream: api
    canary: { upstream: api-next, steps: [10, 50, 100], step_interval: 1m, max_duration: 2m }
`),
    SOURCE,
  );
  assert.deepEqual(config.routes[0].canary?.steps, [10, 50, 100]);
  assert.deepEqual(
    problemsOf(
      withRoutes(`  - match: { path: /a }
    upstream: api
    canary: { upstream: api-next, steps: [100] }
  - match: { path: /b }
    upstream: api
    canary: { upstream: api-next, steps: [10, 100], on_success: hold }
  - match: { path: /c }
    upstream: api
    canary: { upstream: api-next, steps: [10, 50, 100, 100] }
  - match: { path: /d }
    upstream: api
    canary: { upstream: api-next, steps: [10, 101] }
`),
    ).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].canary.steps[0]: a last step of 100 is the promotion: a canary needs a step below 100 before it, to be judged at',
      '9 routes[1].canary.steps[1]: a last step of 100 is the promotion, and on_success: hold holds the canary at its last step instead: drop the 100 (held at 10%) or promote',
      '12 routes[2].canary.steps[3]: expected a percent above the step before (100), got 100',
      '15 routes[3].canary.steps[1]: expected a percent, a whole number from 1 to 100 (100 only last: the promotion), got 101',
    ],
  );
});

// docs/configuration.md: `latency_margin` is a "duration (`0s` allowed)": any slower median counts.
test('a canary latency_margin of 0s loads as no margin; one past 596h or in words is refused', () => {
  const route = (margin: string) =>
    withRoutes(`  - match: { path: / }
    upstream: api
    canary: { upstream: api-next, latency_margin: ${margin} }
`);
  assert.equal(parseConfig(route('0s'), SOURCE).routes[0]?.canary?.latencyMargin, 0);
  assert.equal(parseConfig(route('0ms'), SOURCE).routes[0]?.canary?.latencyMargin, 0);
  assert.deepEqual(
    problemsOf(route('soon')).map((p) => `${p.line} ${p.path}: ${p.message}`),
    ['6 routes[0].canary.latency_margin: expected a duration like 0s, 250ms or 5s, got "soon"'],
  );
  assert.deepEqual(
    problemsOf(route('597h')).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].canary.latency_margin: expected a duration of at most 596h (the longest a timer waits), got "597h"',
    ],
  );
});

test('a split weight out of range is told at the weight alone, not as a split whose weights are all 0', () => {
  const text = withRoutes(`  - match: { path: / }
    split:
      - { upstream: api, weight: 1 }
      - { upstream: api-next, weight: -1 }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    ['7 routes[0].split[1].weight: expected a weight, a whole number from 0 to 1000, got -1'],
  );
});
