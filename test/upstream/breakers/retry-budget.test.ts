import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RetryConfig } from '../../../src/core/config/types.ts';
import { Count } from '../../../src/core/limits/count.ts';
import { RetryBudget } from '../../../src/upstream/breakers/retry-budget.ts';

const policy = (budget: Partial<RetryConfig>): RetryConfig =>
  ({ budgetRatio: 0.2, budgetMinConcurrent: 3, budgetMinPerSecond: 10, ...budget }) as RetryConfig;

test('a count goes down once per release, however often it is called', () => {
  const count = new Count();
  const release = count.acquire();
  count.acquire();
  release();
  release();
  assert.equal(count.count, 1);
});

test('without a floor, a fresh budget allows only its saved-up tokens', () => {
  const budget = new RetryBudget(policy({ budgetMinPerSecond: 0 }), new Count(), () => 0);
  const slots = [budget.trySpend(), budget.trySpend(), budget.trySpend()];
  assert.ok(slots.every((s) => s !== undefined));
  assert.equal(budget.inFlight, 3);
  for (const release of slots) release?.();
  assert.equal(budget.allows(), false, 'three tokens, all spent');
  assert.equal(budget.trySpend(), undefined);
  for (let i = 0; i < 5; i++) budget.earn();
  assert.equal(budget.allows(), true, 'five requests earned one retry');
});

test('the floor allows min_per_second retries a second beyond the ratio, and refills with time', () => {
  let now = 1_000;
  const budget = new RetryBudget(
    policy({ budgetMinConcurrent: 0, budgetMinPerSecond: 4 }),
    new Count(),
    () => now,
  );
  const taken = Array.from({ length: 4 }, () => budget.trySpend());
  assert.ok(
    taken.every((s) => s !== undefined),
    'a second’s worth at once',
  );
  assert.equal(budget.allows(), false);
  assert.equal(budget.trySpend(), undefined);
  now += 250;
  assert.equal(budget.allows(), true, 'a quarter second later, one more');
  assert.ok(budget.trySpend());
  assert.equal(budget.trySpend(), undefined);
  now += 10_000;
  assert.equal(
    Array.from({ length: 5 }, () => budget.trySpend()).filter(Boolean).length,
    4,
    'never more than a second’s worth saved',
  );
});

test('the ratio is spent before the floor', () => {
  const budget = new RetryBudget(policy({ budgetMinPerSecond: 1 }), new Count(), () => 0);
  for (let i = 0; i < 3; i++) budget.trySpend()?.();
  assert.equal(budget.tokens, 0);
  assert.ok(budget.trySpend(), 'the floor’s one');
  assert.equal(budget.trySpend(), undefined);
});

test('an uncharged retry counts in flight and spends no token', () => {
  const budget = new RetryBudget(policy({}), new Count(), () => 0);
  const release = budget.track();
  assert.equal(budget.inFlight, 1);
  assert.equal(budget.tokens, 3);
  release();
  release();
  assert.equal(budget.inFlight, 0);
});
