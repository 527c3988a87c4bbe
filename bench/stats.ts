/** Median, min and max of the repetitions. */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The median (mean of the middle two for an even count), min and max of `values` (not empty). */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}
