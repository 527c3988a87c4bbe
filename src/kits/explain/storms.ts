import { median } from '../../core/stats/mann-whitney.ts';
import type { CanaryMove } from './log-record.ts';
import type { Bucket, StormCounter } from './storm-counter.ts';

/** A bucket is hot when it holds at least this many 5xx … */
const MIN_STORM_ERRORS = 3;
/** … and more than this many times the upstream's usual (median) 5xx per bucket. */
const ABOVE_BASELINE = 3;
/** A storm holds at least this many 5xx in all. */
const MIN_STORM_TOTAL = 10;
/**
 * A change that can start a storm: a deploy of the deploys file (`--deploys`), or one the
 * gateway wrote to its log as it made it (a reload, an admin change, a DNS answer, a target's
 * health transition, a canary's step, a worker's death).
 */
export interface Change {
  readonly at: number;
  /** A deploy's label ("v42"), or the change in words ("reload sha256:1f2e… (route api changed)"). */
  readonly label: string;
  readonly source: 'deploys' | 'log';
  /** A canary's step, start, rollback… (its route and action), from the gateway's event line. */
  readonly canary?: CanaryMove;
  /** A worker of the gateway died (its event line): a change nobody made, and none to undo. */
  readonly workerDeath?: true;
}

export interface Storm {
  readonly upstream: string;
  /** Time of the first and the last 5xx of the storm. */
  readonly began: number;
  readonly ended: number;
  readonly errors: number;
  readonly requests: number;
  readonly peakPerSecond: number;
  readonly baselinePerSecond: number;
  /** Failure types seen in the storm, most frequent first. */
  readonly types: ReadonlyArray<readonly [string, number]>;
  /** The nearest change before it began, and how long before; absent: none precedes it. */
  readonly afterChange?: Change & { readonly ms: number };
  /** Changes made while it lasted (a rollback that ended it, a target taken out, say). */
  readonly changesDuring: readonly Change[];
  /**
   * The rollback that undid the change it is placed after (a canary's step, by the gateway's
   * verdict or an operator), and how long after that change: there is nothing left to undo.
   */
  readonly undoneBy?: Change & { readonly ms: number };
}

/**
 * Storms: runs of buckets (one cold bucket may interrupt a run) where an upstream's 5xx are
 * well above its own baseline, the median per bucket over the whole span of the logs, or its
 * rate outside an outage that covers half of it or more (usualRate).
 */
export function findStorms(counter: StormCounter, changes: readonly Change[]): Storm[] {
  const timeline = [...changes].sort((a, b) => a.at - b.at);
  const size = counter.bucketMs;
  if (!Number.isFinite(counter.from)) return [];
  const first = Math.floor(counter.from / size);
  const count = Math.floor(counter.to / size) - first + 1;
  const storms: Storm[] = [];
  for (const [upstream, series] of counter.series) {
    const errors = new Array<number>(count).fill(0);
    const traffic: Array<boolean | undefined> = new Array(count).fill(undefined);
    for (const [index, bucket] of series) {
      errors[index - first] = bucket.errors;
      // true: most of the bucket's requests failed; false: most did not; undefined: none came.
      if (bucket.requests > 0) traffic[index - first] = bucket.errors * 2 >= bucket.requests;
    }
    const baseline = usualRate(errors, traffic);
    const threshold = Math.max(MIN_STORM_ERRORS, ABOVE_BASELINE * baseline + 1);
    let run: number[] = [];
    let lastEnd = -1;
    const close = () => {
      if (run.length > 0) {
        // The storm also covers its ramp-up and its tail: neighbouring buckets above the baseline.
        let start = run[0];
        let end = run[run.length - 1];
        while (start - 1 > lastEnd && errors[start - 1] > baseline) start--;
        while (end + 1 < count && errors[end + 1] > baseline && errors[end + 1] < threshold) end++;
        lastEnd = end;
        const buckets: Bucket[] = [];
        for (let i = start; i <= end; i++) {
          const bucket = series.get(first + i);
          if (bucket) buckets.push(bucket);
        }
        const storm = describe(upstream, buckets, baseline, size, timeline);
        if (storm.errors >= MIN_STORM_TOTAL) storms.push(storm);
      }
      run = [];
    };
    for (let i = 0; i < count; i++) {
      if (errors[i] < threshold) continue;
      if (run.length > 0 && i - run[run.length - 1] > 2) close();
      run.push(i);
    }
    close();
  }
  return storms.sort((a, b) => a.began - b.began);
}

/** Of the buckets outside an outage, at least this share with requests must have failed few of them. */
const HEALTHY_OUTSIDE = 0.75;

/**
 * An upstream's usual 5xx per bucket: the median over the span, but for an outage that covers
 * half of it or more (the last minutes' log of an incident still going, one that began inside
 * an outage), whose own rate that median would be, so that it was no storm at all. Such an
 * outage is the longest run of buckets where most requests failed (buckets with none do not
 * break it); where the upstream failed few of its requests in most of the buckets with requests
 * outside it (two at least), its usual rate is theirs. An upstream failing all along keeps the
 * median of the span: no rise, no storm.
 */
function usualRate(errors: readonly number[], traffic: ReadonlyArray<boolean | undefined>): number {
  let best: [number, number] | undefined;
  let start = -1;
  let last = -1;
  for (let i = 0; i <= traffic.length; i++) {
    const failing = traffic[i];
    if (failing === true) {
      if (start === -1) start = i;
      last = i;
    } else if (failing === false || i === traffic.length) {
      if (start !== -1 && (best === undefined || last - start > best[1] - best[0])) best = [start, last];
      start = -1;
    }
  }
  if (best === undefined) return median(errors);
  const [from, to] = best;
  const outside = traffic.filter((t, i) => (i < from || i > to) && t !== undefined);
  const healthy = outside.filter((t) => t === false).length;
  if (healthy < 2 || healthy < HEALTHY_OUTSIDE * outside.length) return median(errors);
  return Math.min(median(errors), median(errors.filter((_, i) => i < from || i > to)));
}

function describe(
  upstream: string,
  buckets: readonly Bucket[],
  baseline: number,
  size: number,
  changes: readonly Change[],
): Storm {
  let errors = 0;
  let requests = 0;
  let peak = 0;
  let began = Number.POSITIVE_INFINITY;
  let ended = Number.NEGATIVE_INFINITY;
  const types = new Map<string, number>();
  for (const bucket of buckets) {
    errors += bucket.errors;
    requests += bucket.requests;
    peak = Math.max(peak, bucket.errors);
    if (bucket.errors > 0) {
      began = Math.min(began, bucket.firstError);
      ended = Math.max(ended, bucket.lastError);
    }
    for (const [type, n] of bucket.types ?? []) types.set(type, (types.get(type) ?? 0) + n);
  }
  const before = nearestBefore(changes, began, size);
  return {
    upstream,
    began,
    ended,
    errors,
    requests,
    peakPerSecond: peak / (size / 1000),
    baselinePerSecond: baseline / (size / 1000),
    types: [...types].sort((a, b) => b[1] - a[1]),
    afterChange: before && { ...before, ms: began - before.at },
    changesDuring: changes.filter((c) => c !== before && c.at > began && c.at <= ended),
    ...undone(changes, before),
  };
}

/**
 * The first rollback of a canary after its change (`before`, one of its steps, its start or its
 * promotion), by its own verdict or an operator's: the change a storm is placed after is undone
 * already, and "undo it" would send its reader to do what is done. `changes` are in time order.
 */
function undone(
  changes: readonly Change[],
  before: Change | undefined,
): { undoneBy: Change & { ms: number } } | undefined {
  const route = before?.canary?.action === 'rollback' ? undefined : before?.canary?.route;
  if (before === undefined || route === undefined) return undefined;
  const rollback = changes.find(
    (c) => c.at >= before.at && c !== before && c.canary?.route === route && c.canary.action === 'rollback',
  );
  return rollback && { undoneBy: { ...rollback, ms: rollback.at - before.at } };
}

/**
 * The change a storm that began at `began` is placed against: the latest one made before it,
 * however long before (the report says how long). A deploy stamped up to one bucket after the
 * first 5xx (clocks, second-resolution logs) still counts as before it; a change the gateway
 * logged is stamped to the millisecond, and must come first. `changes` are in time order.
 */
export function nearestBefore(
  changes: readonly Change[],
  began: number,
  bucketMs: number,
): Change | undefined {
  let found: Change | undefined;
  for (const change of changes) {
    const slack = change.source === 'deploys' ? bucketMs : 0;
    if (change.at <= began + slack) found = change;
    else if (change.at > began + bucketMs) break;
  }
  return found;
}
