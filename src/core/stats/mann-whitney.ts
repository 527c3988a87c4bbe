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
  // Both samples sorted as doubles, then walked together: each run of equal values is one tie
  // group, whose ranks are the mean of those it spans. A typed array sorts numerically without
  // a comparator: thousands of values cost two copies, not a boxed number per comparison.
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
  return pOf(rankSum, ties, n1, n0);
}

/** A sample counted on a grid: `counts[i]` values equal to `values[i]`, the values ascending. */
export interface Tally {
  readonly values: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
}

/**
 * rankWorse on two tallied samples (values ascending, each with its count), `base`'s values
 * shifted by `shift`: the same test, each value's equal ones one tie group. One walk of both
 * grids, O(grid), whatever the counts: the canary's latency is tallied so (latency-tally.ts).
 */
export function rankWorseTallied(worse: Tally, base: Tally, shift = 0): number {
  const n1 = total(worse.counts);
  const n0 = total(base.counts);
  if (n1 === 0 || n0 === 0) return 1;
  const k1 = worse.counts.length;
  const k0 = base.counts.length;
  let rankSum = 0;
  let ties = 0;
  let before = 0;
  let i = 0;
  let j = 0;
  while (i < k1 || j < k0) {
    if (i < k1 && worse.counts[i] === 0) {
      i++;
      continue;
    }
    if (j < k0 && base.counts[j] === 0) {
      j++;
      continue;
    }
    const w = i < k1 ? worse.values[i] : Number.POSITIVE_INFINITY;
    const b = j < k0 ? base.values[j] + shift : Number.POSITIVE_INFINITY;
    const inWorse = w <= b ? worse.counts[i++] : 0;
    const inBase = b <= w ? base.counts[j++] : 0;
    const span = inWorse + inBase;
    rankSum += inWorse * (before + (span + 1) / 2);
    ties += span ** 3 - span;
    before += span;
  }
  return pOf(rankSum, ties, n1, n0);
}

/** The one-sided p-value of a rank sum of the first sample (tie-corrected, continuity-corrected). */
function pOf(rankSum: number, ties: number, n1: number, n0: number): number {
  const n = n1 + n0;
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const variance = ((n1 * n0) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (u - (n1 * n0) / 2 - 0.5) / Math.sqrt(variance);
  return upperTail(z);
}

function total(counts: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  return n;
}

/** Equal values share a rank; NaNs (never a latency, but never a loop either) are one group. */
function tie(x: number, value: number): boolean {
  return x === value || (Number.isNaN(x) && Number.isNaN(value));
}

/** The median of a sample (a canary log line gives it beside the p-value; `explain` a storm's baseline); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = new Float64Array(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
