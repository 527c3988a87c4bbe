/**
 * 5xx per upstream per time bucket, in memory bounded by the number of buckets, not of lines:
 * when the time span outgrows MAX_BUCKETS the buckets are merged into the next coarser size
 * (every size divides the next, so merging loses nothing but resolution).
 */
const BUCKET_LADDER_MS = [1, 2, 10, 60, 300, 600, 3600, 21600, 86400].map((s) => s * 1000);
const MAX_BUCKETS = 4000;
/** Buckets the report aims for: enough to place a storm, few enough that each holds a count. */
const REPORT_BUCKETS = 400;

export interface Bucket {
  requests: number;
  errors: number;
  firstError: number;
  lastError: number;
  types: Map<string, number> | undefined;
}

export class StormCounter {
  #bucketMs: number;
  readonly #fixed: boolean;
  readonly #series = new Map<string, Map<number, Bucket>>();
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  /** With `bucketMs`, that size is kept; without, it adapts to the span of the logs. */
  constructor(bucketMs?: number) {
    this.#bucketMs = bucketMs ?? BUCKET_LADDER_MS[0];
    this.#fixed = bucketMs !== undefined;
  }

  get bucketMs(): number {
    return this.#bucketMs;
  }

  get from(): number {
    return this.#min;
  }

  get to(): number {
    return this.#max;
  }

  get series(): ReadonlyMap<string, ReadonlyMap<number, Bucket>> {
    return this.#series;
  }

  /** One request (or one failed attempt: `request` false) of `upstream` at `time`; `error` if it counts toward a storm. */
  add(upstream: string, time: number, error: boolean, type: string | undefined, request = true): void {
    if (time < this.#min) this.#min = time;
    if (time > this.#max) this.#max = time;
    if (!this.#fixed && (this.#max - this.#min) / this.#bucketMs > MAX_BUCKETS) this.#coarsen(MAX_BUCKETS);
    let series = this.#series.get(upstream);
    if (series === undefined) {
      series = new Map();
      this.#series.set(upstream, series);
    }
    const index = Math.floor(time / this.#bucketMs);
    let bucket = series.get(index);
    if (bucket === undefined) {
      bucket = { requests: 0, errors: 0, firstError: Infinity, lastError: -Infinity, types: undefined };
      series.set(index, bucket);
    }
    if (request) bucket.requests++;
    if (!error) return;
    bucket.errors++;
    if (time < bucket.firstError) bucket.firstError = time;
    if (time > bucket.lastError) bucket.lastError = time;
    if (type !== undefined) {
      bucket.types ??= new Map();
      bucket.types.set(type, (bucket.types.get(type) ?? 0) + 1);
    }
  }

  /** Settles the bucket size for the report (adaptive: about REPORT_BUCKETS over the span). */
  settle(): number {
    if (!this.#fixed) this.#coarsen(REPORT_BUCKETS);
    return this.#bucketMs;
  }

  #coarsen(maxBuckets: number): void {
    const span = this.#max - this.#min;
    const size = BUCKET_LADDER_MS.find((ms) => ms >= this.#bucketMs && span / ms <= maxBuckets);
    const next = size ?? BUCKET_LADDER_MS[BUCKET_LADDER_MS.length - 1];
    if (next === this.#bucketMs) return;
    for (const [upstream, series] of this.#series) {
      const merged = new Map<number, Bucket>();
      for (const [index, bucket] of series) {
        const into = Math.floor((index * this.#bucketMs) / next);
        const target = merged.get(into);
        if (target === undefined) merged.set(into, bucket);
        else mergeInto(target, bucket);
      }
      this.#series.set(upstream, merged);
    }
    this.#bucketMs = next;
  }
}

function mergeInto(target: Bucket, bucket: Bucket): void {
  target.requests += bucket.requests;
  target.errors += bucket.errors;
  target.firstError = Math.min(target.firstError, bucket.firstError);
  target.lastError = Math.max(target.lastError, bucket.lastError);
  if (bucket.types) {
    target.types ??= new Map();
    for (const [type, n] of bucket.types) target.types.set(type, (target.types.get(type) ?? 0) + n);
  }
}
