/**
 * A canary step's looks (issue 36): each decided look before the step's end spends a share of
 * the step's 1 − confidence, the look that ends the step what is left, a look short of
 * min_requests nothing; the shares add up to the budget however many looks were decided.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
import type { CanaryConfig } from '../../../src/core/config/types.ts';
import { plannedLooks, StepLooks } from '../../../src/upstream/canary/step-looks.ts';
import { HEALTHY, seeded, simulatedWindow } from '../../helpers/canary-traffic.ts';

const CONFIG: CanaryConfig = {
  upstream: 'next',
  steps: [10],
  stepInterval: 60_000,
  checkInterval: 15_000,
  minRequests: 100,
  maxDuration: 3_600_000,
  compare: [...DEFAULTS.canary.compare],
  confidence: 0.99,
  latencyMargin: 20,
  latencyP99Factor: 2,
  baselineMaxFailedPercent: 10,
  onFailure: 'rollback',
  onSuccess: 'promote',
};
const BUDGET = 1 - CONFIG.confidence;
const near = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-15, `${actual} is not ${expected}`);

test('a step has step_interval / check_interval looks, rounded up, and at least one', () => {
  assert.equal(plannedLooks(CONFIG), 4);
  assert.equal(plannedLooks({ ...CONFIG, checkInterval: 25_000 }), 3);
  assert.equal(plannedLooks({ ...CONFIG, checkInterval: 60_000 }), 1);
});

test('every look decided: a quarter of the budget each, the four adding up to it', () => {
  const rng = seeded(7);
  const looks = new StepLooks(CONFIG);
  const alphas = [1, 2, 3, 4].map((i) => {
    const look = looks.look(simulatedWindow(rng, 10, 3000, { baseline: HEALTHY, canary: HEALTHY }));
    assert.equal(look.index, i);
    assert.equal(look.last, i === 4, 'the fourth look ends the step');
    assert.equal(look.judged.decided, true);
    return look.alpha;
  });
  for (const alpha of alphas) near(alpha, BUDGET / 4);
  near(
    alphas.reduce((a, b) => a + b),
    BUDGET,
  );
});

test('looks short of min_requests spend nothing: the step-ending look gets what is left', () => {
  const rng = seeded(8);
  const looks = new StepLooks(CONFIG);
  // A few requests a look, then many: the canary has its 100 at the fifth look, past the step's end.
  const spent: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const requests = i < 5 ? 50 : 3000;
    const look = looks.look(simulatedWindow(rng, 10, requests, { baseline: HEALTHY, canary: HEALTHY }));
    assert.equal(look.judged.decided, i === 5, `look ${i}`);
    assert.equal(look.last, i >= 4);
    if (look.judged.decided) spent.push(look.alpha);
  }
  near(spent[0], BUDGET);
  // Two decided before the end (a quarter each), and the end's half.
  const two = new StepLooks(CONFIG);
  const got = [10, 2000, 2000, 2000].map(
    (requests) => two.look(simulatedWindow(rng, 10, requests, { baseline: HEALTHY, canary: HEALTHY })).alpha,
  );
  near(got[1], BUDGET / 4);
  near(got[2], BUDGET / 4);
  near(got[3], BUDGET / 2);
});

test("the step's counts grow look by look: a look judges the whole step so far", () => {
  const rng = seeded(9);
  const looks = new StepLooks(CONFIG);
  let requests = 0;
  for (let i = 0; i < 3; i++) {
    const window = simulatedWindow(rng, 10, 1000, { baseline: HEALTHY, canary: HEALTHY });
    requests += window.canary.requests;
    assert.equal(looks.look(window).judged.requests.canary, requests);
  }
  assert.equal(looks.look(undefined).judged.requests.canary, requests, 'no window taken: the same counts');
});

test('looks short of the canary answers past the step end share what is left: a shared dependency down blames no canary by repetition', () => {
  // Both sides fail alike (a dependency they share is down): the canary has its requests but few
  // answers, so each look is tested for worse and cannot pass, past the step's end, look after
  // look. Each taking all that was left gave chance a fresh try each time: the alphas tested
  // added up to many times the step's budget (2.3 % of such canaries rolled back at 99 %).
  const DOWN = { reset: 0.9, slow: 0.05, status5xx: 0.02, extraMs: 0 };
  const rng = seeded(10);
  const looks = new StepLooks(CONFIG);
  let tested = 0;
  let short = 0;
  let decided = 0;
  for (let i = 1; i <= 80 && decided === 0; i++) {
    const look = looks.look(simulatedWindow(rng, 5, 1500, { baseline: DOWN, canary: DOWN }));
    const judged = look.judged;
    if (!judged.decided && judged.answers !== undefined && look.last) short++;
    if (judged.decided || judged.answers !== undefined) tested += look.alpha;
    if (judged.decided) decided = look.index;
  }
  assert.ok(short >= 5, `${short} looks past the step's end short of answers`);
  assert.ok(decided > 4, 'decided in the end, past the step end');
  assert.ok(tested <= BUDGET + 1e-15, `the looks tested at ${tested} in all, over the budget ${BUDGET}`);
});
