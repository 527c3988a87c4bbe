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
  // Both samples sorted as doubles, then walked together: each run of equal values is one tie
  // group, whose ranks are the mean of those it spans. A typed array sorts numerically without
  // a comparator: a window's thousands of values cost two copies, not a boxed number per
  // comparison (the controller judges a window every step, on the request path's process).
  const w = new Float64Array(worse).sort();
  const b = new Float64Array(base).sort();
  let rankSum = 0;
  let ties = 0;
  let before = 0;
  let i = 0;
  let j = 0;
  while (i < n1 || j < n0) {
    // The smaller of the two next values (NaN, sorted last by a typed array, comes last here too).
    const value = j >= n0 || (i < n1 && (w[i] <= b[j] || Number.isNaN(b[j]))) ? w[i] : b[j];
    let inWorse = 0;
    while (i < n1 && tie(w[i], value)) {
      i++;
      inWorse++;
    }
    let inBase = 0;
    while (j < n0 && tie(b[j], value)) {
      j++;
      inBase++;
    }
    const span = inWorse + inBase;
    rankSum += inWorse * (before + (span + 1) / 2);
    ties += span ** 3 - span;
    before += span;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const variance = ((n1 * n0) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (u - (n1 * n0) / 2 - 0.5) / Math.sqrt(variance);
  return upperTail(z);
}

/** Equal values share a rank; NaNs (never a latency, but never a loop either) are one group. */
function tie(x: number, value: number): boolean {
  return x === value || (Number.isNaN(x) && Number.isNaN(value));
}

/** The median of a sample (the figure a log line gives beside the p-value); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = new Float64Array(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
