/**
 * The canary's two tests against the values R gives for the same inputs. There is no R here:
 * each expected value is worked out by hand from the formula in its comment (which is what
 * R's prop.test and wilcox.test compute), to the fourth decimal R prints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, rankWorse } from '../../../src/core/stats/mann-whitney.ts';
import { upperTail } from '../../../src/core/stats/normal.ts';
import { proportionWorse } from '../../../src/core/stats/two-proportions.ts';

const near = (actual: number, expected: number, digits = 4) =>
  assert.ok(Math.abs(actual - expected) < 0.5 * 10 ** -digits, `${actual} is not ${expected}`);

test('the normal upper tail at the quantiles every table prints', () => {
  near(upperTail(0), 0.5);
  near(upperTail(1.644854), 0.05);
  near(upperTail(2.326348), 0.01);
  near(upperTail(-1.959964), 0.975);
  near(upperTail(3.090232), 0.001, 5);
});

test('two proportions: prop.test(c(15, 5), c(100, 100), alternative = "greater")', () => {
  // pooled p = 20/200 = 0.1; se = sqrt(0.1 × 0.9 × (1/100 + 1/100)) = 0.0424264;
  // Yates: |0.15 − 0.05| − 0.5 × (1/100 + 1/100) = 0.09; z = 0.09 / 0.0424264 = 2.12132
  // (X-squared = z² = 4.5, as R prints); p = P(Z > 2.12132) = 0.01695.
  near(proportionWorse({ count: 15, total: 100 }, { count: 5, total: 100 }), 0.01695);
  // The other way round: z = −(0.1 − 0.01) / 0.0424264 = −2.12132, p = 0.98305.
  near(proportionWorse({ count: 5, total: 100 }, { count: 15, total: 100 }), 0.98305);
});

test('two proportions: the same rate is p = 0.5, and nothing to compare is p = 1', () => {
  near(proportionWorse({ count: 10, total: 400 }, { count: 5, total: 200 }), 0.5);
  assert.equal(proportionWorse({ count: 0, total: 500 }, { count: 0, total: 500 }), 1);
  assert.equal(proportionWorse({ count: 3, total: 0 }, { count: 0, total: 500 }), 1);
});

test('two proportions: 5% resets on 300 canary requests against none on 300 is sure', () => {
  // pooled 15/600 = 0.025; se = sqrt(0.025 × 0.975 × 2/300) = 0.0127475; Yates: 0.05 − 1/300 =
  // 0.0466667; z = 3.66085; p = 0.000126.
  near(proportionWorse({ count: 15, total: 300 }, { count: 0, total: 300 }), 0.000126, 6);
});

test('Mann-Whitney: wilcox.test(c(4, 5, 6, 7, 8), c(1, 2, 3, 4, 5), alternative = "greater", exact = FALSE)', () => {
  // Ranks of the ten values: 1, 2, 3, 4.5, 4.5, 6.5, 6.5, 8, 9, 10; the first sample's sum to
  // 4.5 + 6.5 + 8 + 9 + 10 = 38, W = 38 − 5 × 6 / 2 = 23 (as R prints). Two ties of two:
  // Σ(t³ − t) = 12; σ² = 25/12 × (11 − 12 / (10 × 9)) = 22.63889; z = (23 − 12.5 − 0.5) / 4.75804
  // = 2.10170; p = P(Z > 2.10170) = 0.01779.
  near(rankWorse([4, 5, 6, 7, 8], [1, 2, 3, 4, 5]), 0.01779);
  // Swapped: W = 2, z = (2 − 12.5 − 0.5) / 4.75804 = −2.31187, p = 0.98961.
  near(rankWorse([1, 2, 3, 4, 5], [4, 5, 6, 7, 8]), 0.98961);
});

test('Mann-Whitney: without ties, wilcox.test(c(3, 5, 7, 9), c(1, 2, 4, 6, 8), "greater", exact = FALSE)', () => {
  // Ranks: 1→1, 2→2, 3→3, 4→4, 5→5, 6→6, 7→7, 8→8, 9→9; the first sample's: 3 + 5 + 7 + 9 = 24,
  // W = 24 − 10 = 14; σ² = 20/12 × 10 = 16.66667; z = (14 − 10 − 0.5) / 4.08248 = 0.85732;
  // p = 0.19564.
  near(rankWorse([3, 5, 7, 9], [1, 2, 4, 6, 8]), 0.19564);
});

test('Mann-Whitney: an empty side or one value everywhere says nothing (p = 1)', () => {
  assert.equal(rankWorse([], [1, 2]), 1);
  assert.equal(rankWorse([5, 5, 5], [5, 5]), 1);
});

test('Mann-Whitney on two windows of 2000 latencies with many ties: the ranks of the pooled sample sorted as one', () => {
  // The definition, written plainly (each value with its side, sorted together, ties averaged),
  // against the function's two typed arrays walked together; whole milliseconds make ties.
  const byDefinition = (worse: number[], base: number[]) => {
    const all = [...worse.map((v) => [v, 1]), ...base.map((v) => [v, 0])].sort((a, b) => a[0] - b[0]);
    let rankSum = 0;
    let ties = 0;
    for (let i = 0; i < all.length; ) {
      let j = i;
      while (j + 1 < all.length && all[j + 1][0] === all[i][0]) j++;
      for (let k = i; k <= j; k++) rankSum += all[k][1] * ((i + j) / 2 + 1);
      ties += (j - i + 1) ** 3 - (j - i + 1);
      i = j + 1;
    }
    return { rankSum, ties };
  };
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const worse = Array.from({ length: 2000 }, () => Math.round(20 + 10 * random() + random()));
  const base = Array.from({ length: 2000 }, () => Math.round(20 + 10 * random()));
  const { rankSum, ties } = byDefinition(worse, base);
  const [n1, n0] = [worse.length, base.length];
  const n = n1 + n0;
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const variance = ((n1 * n0) / 12) * (n + 1 - ties / (n * (n - 1)));
  const z = (u - (n1 * n0) / 2 - 0.5) / Math.sqrt(variance);
  assert.ok(ties > 0 && z > 1, `ties (${ties}) and a sample that is worse (z = ${z})`);
  near(rankWorse(worse, base), upperTail(z), 12);
  near(rankWorse(base, worse), upperTail((n1 * n0 - u - (n1 * n0) / 2 - 0.5) / Math.sqrt(variance)), 12);
});

test('median', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), 0);
});
