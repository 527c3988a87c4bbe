/** Failures out of requests, on one side of a comparison. */
export interface Proportion {
  readonly count: number;
  readonly total: number;
}

/**
 * Whether `worse` fails more often than `base`, exactly: the one-sided Fisher exact test (R's
 * `fisher.test(matrix(c(x1, n1 - x1, x0, n0 - x0), 2, byrow = TRUE), alternative = "greater")`).
 * Given the failures of both sides together, the chance that `worse` got at least as many of
 * them as it did if both failed alike: the upper tail of a hypergeometric distribution.
 *
 * Why not the two-proportion z test (R's prop.test): a canary's failures are rare and its side
 * is small (5 % of the traffic), and there the normal approximation's far tail, where a verdict
 * is drawn, is wrong by orders of magnitude — 2 failures in 150 against 1 in 2850 is p = 0.00017
 * by the z test with Yates' correction, p = 0.0072 exactly — which rolled healthy canaries back.
 * O(failures) at most, and it stops once the terms no longer count. Returns 1 when nothing can
 * be said (an empty side, no failure at all).
 */
export function fisherWorse(worse: Proportion, base: Proportion): number {
  const n1 = worse.total;
  const n0 = base.total;
  const failures = worse.count + base.count;
  if (n1 === 0 || n0 === 0 || failures === 0) return 1;
  const all = n1 + n0;
  const highest = Math.min(failures, n1);
  const lowest = Math.max(0, failures - n0);
  const x = worse.count;
  if (x <= lowest) return 1;
  // Terms from x up fall once past the mean: the upper tail is summed from x. Below the mean,
  // the tail is nearly 1 and is 1 minus the lower tail, summed from x − 1 down.
  const upper = x >= (failures * n1) / all;
  const start = upper ? x : x - 1;
  const first = Math.exp(logHypergeometric(start, failures, n1, all));
  let term = first;
  let sum = first;
  if (upper)
    for (let k = start; k < highest && term > sum * 1e-17; k++) {
      term *= ((failures - k) * (n1 - k)) / ((k + 1) * (all - failures - n1 + k + 1));
      sum += term;
    }
  else
    for (let k = start; k > lowest && term > sum * 1e-17; k--) {
      term *= (k * (all - failures - n1 + k)) / ((failures - k + 1) * (n1 - k + 1));
      sum += term;
    }
  return Math.min(1, Math.max(0, upper ? sum : 1 - sum));
}

/** log P(X = k) for X hypergeometric: k of `failures` among the n1 drawn of `all`. */
function logHypergeometric(k: number, failures: number, n1: number, all: number): number {
  return logChoose(failures, k) + logChoose(all - failures, n1 - k) - logChoose(all, n1);
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** log(n!) by the Lanczos approximation of log Γ(n + 1) (g = 7, nine terms: 15 digits). */
export function logFactorial(n: number): number {
  if (n < 2) return 0;
  const x = n; // Γ(n + 1): Lanczos's series is written for Γ(x + 1)
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
