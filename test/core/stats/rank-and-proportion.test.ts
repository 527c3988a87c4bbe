/**
 * The canary's two tests against the values R gives for the same inputs. There is no R here:
 * the rank test's values are worked out by hand from the formula in their comments (what R's
 * wilcox.test computes), the exact test's are R's published fisher.test examples and values
 * scipy.stats.fisher_exact gives, each to the digits in its call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fisherWorse, logFactorial } from '../../../src/core/stats/fisher-exact.ts';
import { median, rankWorse, rankWorseTallied } from '../../../src/core/stats/mann-whitney.ts';
import { upperTail } from '../../../src/core/stats/normal.ts';

const near = (actual: number, expected: number, digits = 4) =>
  assert.ok(Math.abs(actual - expected) < 0.5 * 10 ** -digits, `${actual} is not ${expected}`);

test('the normal upper tail at the quantiles every table prints', () => {
  near(upperTail(0), 0.5);
  near(upperTail(1.644854), 0.05);
  near(upperTail(2.326348), 0.01);
  near(upperTail(-1.959964), 0.975);
  near(upperTail(3.090232), 0.001, 5);
});

test("two proportions: R's own fisher.test examples, one-sided", () => {
  // ?fisher.test, "Agresti (1990, p. 61f; 2002, p. 91) Fisher's Tea Drinker": TeaTasting =
  // matrix(c(3, 1, 1, 3), 2); fisher.test(TeaTasting, alternative = "greater"): p-value = 0.2429.
  near(fisherWorse({ count: 3, total: 4 }, { count: 1, total: 4 }), 0.2429);
  // "Fisher (1962, 1970), Criminal convictions of like-sex twins": Convictions =
  // matrix(c(2, 10, 15, 3), 2); fisher.test(Convictions, alternative = "less"): p-value =
  // 0.0004652; "less" for the dizygotic row is "greater" for the monozygotic (10 of 13 against 2 of 17).
  near(fisherWorse({ count: 10, total: 13 }, { count: 2, total: 17 }), 0.0004652, 7);
});

test("two proportions: a canary's rare failures are judged exactly, where the z test was far off", () => {
  // The upper tail of the hypergeometric, summed by hand from its first term: 3 failures in all,
  // the canary has all 3 of them in its 60 of 600: C(60, 3) / C(600, 3) = 205320 / 214921200.
  near(fisherWorse({ count: 3, total: 60 }, { count: 0, total: 540 }), 205320 / 214921200, 9);
  // 2 in 150 against 1 in 2850 (a healthy canary's bad luck): 0.0072, where prop.test says 0.00017.
  near(fisherWorse({ count: 2, total: 150 }, { count: 1, total: 2850 }), 0.007207, 6);
  // Many failures: the tail is summed until its terms no longer count (scipy.stats.fisher_exact).
  near(fisherWorse({ count: 500, total: 10_000 }, { count: 400, total: 10_000 }), 0.00036265, 8);
});

test('two proportions: the canary failing less is far from worse, and nothing to compare is p = 1', () => {
  near(fisherWorse({ count: 5, total: 100 }, { count: 15, total: 100 }), 0.99596);
  near(fisherWorse({ count: 10, total: 400 }, { count: 5, total: 200 }), 0.61929);
  assert.equal(fisherWorse({ count: 0, total: 500 }, { count: 0, total: 500 }), 1);
  assert.equal(fisherWorse({ count: 3, total: 0 }, { count: 0, total: 500 }), 1);
  assert.equal(fisherWorse({ count: 0, total: 10 }, { count: 5, total: 10 }), 1);
});

test('log n! is good to the digits the tail needs', () => {
  near(logFactorial(10), Math.log(3_628_800), 12);
  near(logFactorial(170), 706.5730622457874, 10);
  assert.equal(logFactorial(0), 0);
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

test('Mann-Whitney on tallies (values on a grid, each with its count) is the test on the samples they count', () => {
  // R's example above, tallied on the grid 1..8: the same p-value, with the base shifted or not.
  const grid = [1, 2, 3, 4, 5, 6, 7, 8];
  const tally = (sample: number[]) => grid.map((v) => sample.filter((x) => x === v).length);
  near(
    rankWorseTallied(
      { values: grid, counts: tally([4, 5, 6, 7, 8]) },
      { values: grid, counts: tally([1, 2, 3, 4, 5]) },
    ),
    0.01779,
  );
  // Thousands of values on a grid of 40, counts of zero in places, a shift that lands between
  // grid values and on them: equal to the test on the samples written out, to 12 digits.
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const values = Array.from({ length: 40 }, (_, i) => 1 + 1.5 * i);
  const counts = (weight: (i: number) => number) =>
    values.map((_, i) => (i % 7 === 3 ? 0 : Math.floor(weight(i) * 200 * random())));
  const worse = counts((i) => i / 40);
  const base = counts((i) => 1 - i / 40);
  const expand = (c: number[], shift: number) =>
    c.flatMap((k, i) => Array<number>(k).fill(values[i] + shift));
  for (const shift of [0, 0.75, 3, -6]) {
    near(
      rankWorseTallied({ values, counts: worse }, { values, counts: base }, shift),
      rankWorse(expand(worse, 0), expand(base, shift)),
      12,
    );
    near(
      rankWorseTallied({ values, counts: base }, { values, counts: worse }, shift),
      rankWorse(expand(base, 0), expand(worse, shift)),
      12,
    );
  }
  assert.equal(rankWorseTallied({ values, counts: values.map(() => 0) }, { values, counts: base }), 1);
});

test('median', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), 0);
});

test('two proportions: the smallest tables, summed by hand from the hypergeometric', () => {
  // 1 of 1 against 0 of 1: one failure in two requests, on the canary's one with chance 1/2.
  near(fisherWorse({ count: 1, total: 1 }, { count: 0, total: 1 }), 0.5, 12);
  // 2 of 2 against 0 of 2: C(2, 2) C(2, 0) / C(4, 2) = 1/6.
  near(fisherWorse({ count: 2, total: 2 }, { count: 0, total: 2 }), 1 / 6, 12);
  // 3 of 5 against 1 of 5: [C(4, 3) C(6, 2) + C(4, 4) C(6, 1)] / C(10, 5) = (60 + 6) / 252.
  near(fisherWorse({ count: 3, total: 5 }, { count: 1, total: 5 }), 66 / 252, 12);
  // Every request failed on both sides: the canary could not have had fewer; nothing is shown.
  assert.equal(fisherWorse({ count: 5, total: 5 }, { count: 5, total: 5 }), 1);
  // None of the canary's failed: p = 1, never a verdict.
  assert.equal(fisherWorse({ count: 0, total: 7 }, { count: 3, total: 7 }), 1);
  for (const p of [
    fisherWorse({ count: 0, total: 0 }, { count: 0, total: 0 }),
    fisherWorse({ count: 1, total: 1 }, { count: 0, total: 0 }),
  ])
    assert.equal(p, 1);
});

test('Mann-Whitney: one value a side, and one tie group holding all but one value, by hand', () => {
  // [2] against [1]: U = 1, σ² = 1 × 1 / 12 × 3 = 0.25, z = (1 − 0.5 − 0.5) / 0.5 = 0: p = 0.5.
  near(rankWorse([2], [1]), 0.5, 6); // the normal tail is good to 1.2e-7 (normal.ts)
  // [3, 3, 3, 9] against [3, 3, 3]: the six 3s rank 3.5, the 9 ranks 7; W = 3 × 3.5 + 7 − 10 = 7.5;
  // Σ(t³ − t) = 210; σ² = 12 / 12 × (8 − 210 / 42) = 3; z = (7.5 − 6 − 0.5) / √3 = 0.57735:
  // p = 0.28185 (scipy.stats.mannwhitneyu, method="asymptotic", the same).
  near(rankWorse([3, 3, 3, 9], [3, 3, 3]), 0.28185);
  // Tallies with nothing counted on a side, or every count 0: p = 1, not NaN.
  assert.equal(rankWorseTallied({ values: [1, 2], counts: [0, 0] }, { values: [1, 2], counts: [3, 4] }), 1);
  assert.equal(rankWorseTallied({ values: [1, 2], counts: [5, 0] }, { values: [1, 2], counts: [2, 0] }), 1);
});
