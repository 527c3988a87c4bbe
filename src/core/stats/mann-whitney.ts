import { upperTail } from './normal.ts';

/**
 * Whether the values of `worse` tend to be larger than those of `base`: the one-sided
 * Mann-Whitney U (Wilcoxon rank-sum) test by its normal approximation, with the tie correction
 * of the variance and a continuity correction (R's `wilcox.test(worse, base, alternative =
 * "greater", exact = FALSE)`). A rank test, as Kayenta's: latencies are skewed and heavy-tailed,
 * and a rank does not care. Returns the p-value; 1 when a side is empty or every value is one.
 * O((n + m) log(n + m)); the caller bounds the samples.
 */
export function rankWorse(worse: readonly number[], base: readonly number[]): number {
  const n1 = worse.length;
  const n0 = base.length;
  if (n1 === 0 || n0 === 0) return 1;
  const n = n1 + n0;
  // Each value with its side (1: worse), sorted; ties get the mean of the ranks they span.
  const all: { value: number; worse: boolean }[] = [];
  for (const value of worse) all.push({ value, worse: true });
  for (const value of base) all.push({ value, worse: false });
  all.sort((a, b) => a.value - b.value);
  let rankSum = 0;
  let ties = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1].value === all[i].value) j++;
    const span = j - i + 1;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k].worse) rankSum += rank;
    ties += span ** 3 - span;
    i = j + 1;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const variance = ((n1 * n0) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (u - (n1 * n0) / 2 - 0.5) / Math.sqrt(variance);
  return upperTail(z);
}

/** The median of a sample (the figure a log line gives beside the p-value); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
