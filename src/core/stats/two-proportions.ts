import { upperTail } from './normal.ts';

/** Failures out of requests, on one side of a comparison. */
export interface Proportion {
  readonly count: number;
  readonly total: number;
}

/**
 * Whether `worse` fails more often than `base`: the one-sided two-proportion z test on the
 * pooled proportion, with Yates' continuity correction (R's `prop.test(c(x1, x0), c(n1, n0),
 * alternative = "greater")`). The correction makes it cautious on small counts, which is the
 * side a gateway that rolls back on its verdict should err on. Returns the p-value: the chance
 * of a difference at least this large if both sides failed alike; 1 when nothing can be said
 * (an empty side, or no failure on either).
 */
export function proportionWorse(worse: Proportion, base: Proportion): number {
  const n1 = worse.total;
  const n0 = base.total;
  if (n1 === 0 || n0 === 0) return 1;
  const pooled = (worse.count + base.count) / (n1 + n0);
  if (pooled === 0 || pooled === 1) return 1;
  const delta = worse.count / n1 - base.count / n0;
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0));
  // R's prop.test: the correction never passes the difference itself.
  const correction = Math.min(0.5 * (1 / n1 + 1 / n0), Math.abs(delta));
  const z = (Math.sign(delta) * (Math.abs(delta) - correction)) / se;
  return upperTail(z);
}
