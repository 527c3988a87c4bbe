/**
 * The client's retry budget on a clock the test moves: retries stay under ratio × calls plus
 * the floor over the window, and counts age out as the window slides.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowRetryBudget } from '../../../src/kits/client/window-retry-budget.ts';

test('ratio 0.5, no floor: 4 calls buy 2 retries; the window forgets them a tenth at a time', () => {
  const budget = new WindowRetryBudget({ ratio: 0.5, window: 1000, minPerSecond: 0 });
  assert.equal(budget.trySpend(0), false, 'no call yet, no retry');
  for (let i = 0; i < 4; i++) budget.called(0);
  assert.equal(budget.trySpend(10), true);
  assert.equal(budget.trySpend(20), true);
  assert.equal(budget.trySpend(30), false, 'the third retry is over 50% of 4 calls');
  budget.called(950);
  budget.called(950);
  assert.equal(budget.trySpend(960), true, '6 calls in the window: 3 retries');
  assert.equal(budget.trySpend(960), false);
  // At 1050 the calls of the first tenth (0–99) have aged out: 2 calls, 3 retries of which 1 still counts.
  assert.equal(budget.trySpend(1050), false, '2 calls and 1 retry left in the window: 1 is the most');
  assert.equal(budget.trySpend(2000), false, 'everything aged out: no calls, no retry');
});

test('the floor allows minPerSecond × window retries without any call', () => {
  const budget = new WindowRetryBudget({ ratio: 0.2, window: 2000, minPerSecond: 2 });
  const allowed = Array.from({ length: 6 }, () => budget.trySpend(100)).filter(Boolean).length;
  assert.equal(allowed, 4);
});
