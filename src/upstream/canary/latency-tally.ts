/**
 * A side's latencies as counts on one fixed grid of buckets, log-spaced: 32 a doubling (each
 * about 2.2 % wide) from 1/16 ms to 2^20 ms (17.5 minutes), one below and one at or past the
 * ends. Counting a response is one increment; merging two windows, or adding a window to a
 * step's totals, is one pass over the grid; the rank test reads the grid once (its equal values
 * are its buckets, tie-corrected): all bounded by the grid's size, whatever the request rate.
 * A reservoir sample would bound the same costs but judge on a fraction of the responses, and
 * re-drawing it at every merge cost a copy of every sample.
 */

const PER_DOUBLING = 32;
const FLOOR_MS = 1 / 16;
const DOUBLINGS = 24;
const SCALE = PER_DOUBLING / Math.LN2;

/** Buckets a tally has: below 1/16 ms, the grid, at or past 2^20 ms. */
export const LATENCY_BUCKETS = PER_DOUBLING * DOUBLINGS + 2;

/** Where bucket `i` begins, in milliseconds (0 for the first). */
function lowerBound(i: number): number {
  return i === 0 ? 0 : FLOOR_MS * 2 ** ((i - 1) / PER_DOUBLING);
}

/**
 * The value a bucket's responses are ranked at: its geometric middle (the first's, half the
 * floor; the last's, where it begins). Ascending, so a tally is a sorted sample with ties.
 */
export const BUCKET_VALUES: Float64Array = Float64Array.from({ length: LATENCY_BUCKETS }, (_, i) =>
  i === 0
    ? FLOOR_MS / 2
    : i === LATENCY_BUCKETS - 1
      ? lowerBound(i)
      : FLOOR_MS * 2 ** ((i - 0.5) / PER_DOUBLING),
);

/** A tally with nothing counted: a plain array, so it crosses the IPC channel and Redis as it is. */
export function emptyTally(): number[] {
  return new Array<number>(LATENCY_BUCKETS).fill(0);
}

/** The bucket of a latency in milliseconds (NaN and negatives in the first). */
export function bucketOf(ms: number): number {
  if (!(ms >= FLOOR_MS)) return 0;
  const i = 1 + Math.floor(Math.log(ms / FLOOR_MS) * SCALE);
  return i < LATENCY_BUCKETS - 1 ? i : LATENCY_BUCKETS - 1;
}

/** Whether a value read from another process (Redis, a worker) is a tally of this grid. */
export function isTally(value: unknown): value is number[] {
  return (
    Array.isArray(value) &&
    value.length === LATENCY_BUCKETS &&
    value.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)
  );
}

/** Adds `from`'s counts to `into`'s, bucket by bucket (`by` −1: takes them away). */
export function addTally(into: number[], from: readonly number[], by: 1 | -1 = 1): void {
  for (let i = 0; i < LATENCY_BUCKETS; i++) into[i] += by * from[i];
}

/** Responses counted. */
export function tallied(tally: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) n += tally[i];
  return n;
}

/**
 * The median (the figure a log line gives beside the p-value), placed within its bucket by
 * its rank there, as if the bucket's responses were spread evenly across it: within the
 * bucket's 2.2 % of the true median. 0 for none.
 */
export function tallyMedian(tally: readonly number[]): number {
  return tallyQuantile(tally, 0.5);
}

/**
 * The `q` quantile (0.5 the median, 0.99 the p99), placed within its bucket as tallyMedian's. 0
 * for none. `total`: the tally's count, when the caller has it (one pass of the grid less).
 */
export function tallyQuantile(tally: readonly number[], q: number, total = tallied(tally)): number {
  const rank = total * q;
  if (rank === 0) return 0;
  let before = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const count = tally[i];
    if (count === 0 || before + count < rank) {
      before += count;
      continue;
    }
    if (i === LATENCY_BUCKETS - 1) return lowerBound(i);
    const lower = lowerBound(i);
    return lower + ((lowerBound(i + 1) - lower) * (rank - before)) / count;
  }
  return lowerBound(LATENCY_BUCKETS - 1);
}

/**
 * Responses surely slower than `ms`: those of the buckets wholly above it (the bucket `ms` falls
 * in is left out: its responses may be either side of it).
 */
export function talliedAbove(tally: readonly number[], ms: number): number {
  let n = 0;
  for (let i = bucketOf(ms) + 1; i < LATENCY_BUCKETS; i++) n += tally[i];
  return n;
}
