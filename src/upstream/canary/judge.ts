import type { CanaryConfig, CanaryMetric } from '../../core/config/types.ts';
import { fisherWorse } from '../../core/stats/fisher-exact.ts';
import { rankWorseTallied } from '../../core/stats/mann-whitney.ts';
import { CANARY_COUNTS, type SideCounts, type WindowCounts } from './canary-window.ts';
import { BUCKET_VALUES, tallied, talliedAbove, tallyMedian, tallyQuantile } from './latency-tally.ts';

/**
 * What a judge may compare: a route canary's metrics (`canary.compare`), and `gateway_error`,
 * which only a fleet's config canary counts (canary-window.ts's GatewayWindow) and compares.
 */
export type JudgedMetric = CanaryMetric | 'gateway_error';

/** A canary's settings as the judge reads them: a route's (CanaryConfig), or a config canary's with its own metrics. */
export type JudgeSettings = Omit<CanaryConfig, 'compare'> & { readonly compare: readonly JudgedMetric[] };

/** One metric compared: both sides' figures as a person reads them, and the test's p-value. */
export interface MetricVerdict {
  readonly metric: JudgedMetric;
  readonly canary: string;
  readonly baseline: string;
  readonly p: number;
  readonly worse: boolean;
}

export type Judgement =
  /**
   * A side had fewer requests than `min_requests`, or (`answers` set) latency is compared and the
   * canary answered fewer than `min_requests` of its requests, nothing else found worse: nothing
   * is decided on this window (a latency it did not show is no pass).
   */
  | {
      readonly decided: false;
      readonly requests: { canary: number; baseline: number };
      /** The canary's answers, when they, not the requests, are short (a 5xx is none: canary-window.ts). */
      readonly answers?: number;
      /** With `answers`: the canary's answers of 500–599, counted as its status_5xx, not as latencies. */
      readonly errors?: number;
    }
  | {
      readonly decided: true;
      readonly requests: { canary: number; baseline: number };
      /** Every metric compared, in the config's order. */
      readonly metrics: readonly MetricVerdict[];
      /** The first metric found worse (the most certain one); undefined: the canary passes. */
      readonly worse: MetricVerdict | undefined;
      /** The baseline's failed attempts, of every shape counted (CANARY_COUNTS): a pass against a failing baseline says nothing. */
      readonly baselineFailed: number;
    };

/**
 * The canary against the baseline over one window. A metric is worse when its test's p-value is
 * under `alpha` (the chance of a false "worse" this look may take: by default 1 − confidence, a
 * look during a step its share, step-looks.ts) divided by the number of metrics compared
 * (Bonferroni): comparing eight things does not give eight chances of a false rollback. Latency
 * is tested against the baseline shifted by `latency_margin`, so "worse" means slower by more
 * than the margin, with confidence; its tail (`latency_p99`) on its own (tailVerdict).
 */
export function judgeWindow(
  window: WindowCounts,
  config: JudgeSettings,
  alpha = 1 - config.confidence,
): Judgement {
  const { canary, baseline } = window;
  const requests = { canary: canary.requests, baseline: baseline.requests };
  if (canary.requests < config.minRequests || baseline.requests < config.minRequests)
    return { decided: false, requests };
  const perMetric = alpha / config.compare.length;
  const metrics = config.compare.map((metric) =>
    metric === 'latency'
      ? latencyVerdict(canary, baseline, config.latencyMargin, perMetric)
      : metric === 'latency_p99'
        ? tailVerdict(canary, baseline, config, perMetric)
        : countVerdict(metric, canary, baseline, perMetric),
  );
  // A canary slower at the median is slower in its tail too: `latency` says what happened.
  const slower = metrics.some((m) => m.metric === 'latency' && m.worse);
  const worse = metrics
    .filter((m) => m.worse && !(slower && m.metric === 'latency_p99'))
    .sort((a, b) => a.p - b.p)[0];
  // A canary that answered few of its requests (refused, reset) has few latencies to rank: the
  // rank test finds nothing worse in none, and a pass on it would promote a canary that is down.
  const answers = tallied(canary.latency);
  if (worse === undefined && answers < config.minRequests && config.compare.some(isLatency))
    return { decided: false, requests, answers, errors: canary.status_5xx };
  const baselineFailed = CANARY_COUNTS.reduce((n, count) => n + baseline[count], 0);
  return { decided: true, requests, metrics, worse, baselineFailed };
}

/** A p-value as a person reads it, the relation with it: "p = " four significant digits, or "p < 1e-12". */
export function formatP(p: number): string {
  return p < 1e-12 ? 'p < 1e-12' : `p = ${p.toPrecision(4)}`;
}

function isLatency(metric: JudgedMetric): boolean {
  return metric === 'latency' || metric === 'latency_p99';
}

function countVerdict(
  metric: Exclude<JudgedMetric, 'latency' | 'latency_p99'>,
  canary: SideCounts,
  baseline: SideCounts,
  alpha: number,
): MetricVerdict {
  const p = fisherWorse(
    { count: canary[metric], total: canary.requests },
    { count: baseline[metric], total: baseline.requests },
  );
  const figure = (side: SideCounts) =>
    `${side[metric]}/${side.requests} (${((100 * side[metric]) / side.requests).toFixed(2)}%)`;
  return { metric, canary: figure(canary), baseline: figure(baseline), p, worse: p < alpha };
}

function latencyVerdict(
  canary: SideCounts,
  baseline: SideCounts,
  margin: number,
  alpha: number,
): MetricVerdict {
  const p = rankWorseTallied(
    { values: BUCKET_VALUES, counts: canary.latency },
    { values: BUCKET_VALUES, counts: baseline.latency },
    margin,
  );
  // A side none of whose attempts was answered has no median: "0.0 ms" would read as the fastest.
  const figure = (side: SideCounts) => {
    const n = tallied(side.latency);
    return n === 0
      ? 'no answers (0 samples)'
      : `median ${tallyMedian(side.latency).toFixed(1)} ms (${n} samples)`;
  };
  return { metric: 'latency', canary: figure(canary), baseline: figure(baseline), p, worse: p < alpha };
}

/**
 * The tail: a canary whose median is the baseline's but whose slowest answers are far slower (a
 * lock, a cold cache, a GC pause on one request in fifty) passes the rank test, which weighs
 * every answer alike. An answer is in the tail when slower than `latency_p99_factor` times the
 * baseline's p99 and than that p99 plus `latency_margin`; the canary is worse when a larger share
 * of its answers is there than of the baseline's, by Fisher's exact test as a failure count is
 * (a few slow answers of a small side are judged exactly, not by a normal tail). The baseline
 * has about 1 % of its answers past its p99, far fewer past twice it: a canary whose p99 is five
 * times the baseline's has 1 % or more there.
 */
function tailVerdict(
  canary: SideCounts,
  baseline: SideCounts,
  config: JudgeSettings,
  alpha: number,
): MetricVerdict {
  // Each grid read a bounded number of times, whatever the answers (look-cost.test.ts).
  const side = (s: SideCounts) => {
    const total = tallied(s.latency);
    return { total, p99: tallyQuantile(s.latency, 0.99, total) };
  };
  const c = side(canary);
  const b = side(baseline);
  const over = Math.max(b.p99 * config.latencyP99Factor, b.p99 + config.latencyMargin);
  const cAbove = { count: talliedAbove(canary.latency, over), total: c.total };
  const bAbove = { count: talliedAbove(baseline.latency, over), total: b.total };
  const p = fisherWorse(cAbove, bAbove);
  const figure = (p99: number, n: { count: number; total: number }) =>
    n.total === 0
      ? 'no answers (0 samples)'
      : `p99 ${p99.toFixed(1)} ms, ${n.count}/${n.total} (${((100 * n.count) / n.total).toFixed(2)}%) slower than ${over.toFixed(1)} ms`;
  return {
    metric: 'latency_p99',
    canary: figure(c.p99, cAbove),
    baseline: figure(b.p99, bAbove),
    p,
    worse: p < alpha,
  };
}
