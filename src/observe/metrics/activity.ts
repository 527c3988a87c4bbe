import { loggedUpstream, type RequestRecord } from '../log/request-record.ts';
import type { Origin } from './catalog.ts';

/**
 * What the status page shows beside the state of the targets: answers per second by who made
 * them and why, over the last minutes, and the latest failed requests with their ids. Prometheus
 * keeps history for whoever scrapes it; this is for the operator looking now, with no
 * Prometheus at hand, so each process keeps only a short window, bounded whatever the traffic:
 * one bucket per second (a handful of series each: origin × failure type) and a ring of the
 * last failed requests. Recording is a clock read, an increment (a Map looked up only when the
 * series or the second differs from the last answer's) and, for a failure only, one small
 * object: nothing else on the hot path.
 */

/** Seconds of per-second counts kept: the status page's chart. */
export const ACTIVITY_SECONDS = 300;
/** Failed requests remembered per process (the primary keeps the latest of all workers'). */
export const RECENT_FAILURES = 50;
/** A failure's details are the taxonomy's short sentence; a longer one is cut here. */
const MAX_DETAILS = 300;

/** One failed request, as the access log line says it. */
interface FailedRequest {
  readonly at: string;
  readonly req_id: string;
  readonly method: string;
  readonly route: string | null;
  readonly upstream: string | null;
  readonly target: string | null;
  /**
   * The hop the gateway called for the request whose failure this is, as the log line names it:
   * an auth hop's has no upstream nor target, a plugin's hop's no target, and without these the
   * page named nobody where Proxy-Status, the log, the metrics and the span name the hop.
   */
  readonly auth_hop: string | null;
  readonly plugin_hop: string | null;
  readonly status: number;
  readonly origin: Origin;
  readonly error: string;
  readonly shape: string;
  readonly details: string;
}

/** One second: answers by series, "origin" or "origin error_type" (e.g. "gateway connection_refused"). */
interface ActivitySecond {
  /** Unix time, whole seconds. */
  readonly t: number;
  readonly counts: Record<string, number>;
}

export interface ActivityReport {
  /** Oldest first; seconds with no answer are left out. */
  readonly seconds: ActivitySecond[];
  /** Newest first. */
  readonly failures: FailedRequest[];
}

/** The series an answer counts in: who made it, and the failure type when there was one. */
function seriesOf(origin: Origin, errorType: string | undefined): string {
  return errorType === undefined ? origin : `${origin} ${errorType}`;
}

/** One series' answers in one second: a box, so that the series counted last is counted again without a Map. */
interface Count {
  n: number;
}

export class Activity {
  readonly #buckets = Array.from({ length: ACTIVITY_SECONDS }, () => ({
    t: -1,
    counts: new Map<string, Count>(),
  }));
  readonly #failures: (FailedRequest | undefined)[] = new Array(RECENT_FAILURES).fill(undefined);
  #next = 0;
  /** The second and series counted last, and their count (most answers in a row are alike). */
  #lastT = -1;
  #lastSeries = '';
  #lastCount: Count = { n: 0 };

  /** A request's answer is written (called once per request, with its log line). */
  record(record: RequestRecord, origin: Origin, now = Date.now()): void {
    const t = Math.floor(now / 1000);
    const failure = record.failure;
    const series = seriesOf(origin, failure?.type);
    if (t === this.#lastT && series === this.#lastSeries) this.#lastCount.n++;
    else this.#count(t, series);
    if (failure === undefined) return;
    this.#failures[this.#next] = {
      at: new Date(now).toISOString(),
      req_id: record.id,
      method: record.method,
      route: record.route ?? null,
      // As the log line names it: not the route's upstream when a plugin's hop failed before it.
      upstream: loggedUpstream(record) ?? null,
      target: record.target ?? null,
      auth_hop: record.authHop ?? null,
      plugin_hop: record.pluginHop ?? null,
      status: record.status,
      origin,
      error: failure.type,
      shape: failure.kind.shape,
      details:
        failure.details.length > MAX_DETAILS ? `${failure.details.slice(0, MAX_DETAILS)}…` : failure.details,
    };
    this.#next = (this.#next + 1) % RECENT_FAILURES;
  }

  #count(t: number, series: string): void {
    const bucket = this.#buckets[t % ACTIVITY_SECONDS];
    if (bucket.t !== t) {
      bucket.t = t;
      bucket.counts.clear();
    }
    let count = bucket.counts.get(series);
    if (count === undefined) {
      count = { n: 0 };
      bucket.counts.set(series, count);
    }
    count.n++;
    this.#lastT = t;
    this.#lastSeries = series;
    this.#lastCount = count;
  }

  report(now = Date.now()): ActivityReport {
    const last = Math.floor(now / 1000);
    const seconds: ActivitySecond[] = [];
    for (let t = last - ACTIVITY_SECONDS + 1; t <= last; t++) {
      const bucket = this.#buckets[t % ACTIVITY_SECONDS];
      if (bucket.t === t && bucket.counts.size > 0)
        seconds.push({
          t,
          counts: Object.fromEntries([...bucket.counts].map(([series, count]) => [series, count.n])),
        });
    }
    const failures: FailedRequest[] = [];
    for (let i = 1; i <= RECENT_FAILURES; i++) {
      const failure = this.#failures[(this.#next - i + RECENT_FAILURES) % RECENT_FAILURES];
      if (failure !== undefined) failures.push(failure);
    }
    return { seconds, failures };
  }
}

/** Several processes' reports as one: counts added second by second, the latest failures of all. */
export function mergeActivity(reports: readonly ActivityReport[]): ActivityReport {
  const bySecond = new Map<number, Record<string, number>>();
  for (const report of reports)
    for (const { t, counts } of report.seconds) {
      const merged = bySecond.get(t) ?? {};
      for (const [series, n] of Object.entries(counts)) merged[series] = (merged[series] ?? 0) + n;
      bySecond.set(t, merged);
    }
  const seconds = [...bySecond.entries()].sort(([a], [b]) => a - b).map(([t, counts]) => ({ t, counts }));
  const failures = reports
    .flatMap((r) => r.failures)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, RECENT_FAILURES);
  return { seconds, failures };
}
