import type { CanaryConfig, CanaryMetric } from '../../core/config/types.ts';
import { fisherWorse } from '../../core/stats/fisher-exact.ts';
import { rankWorseTallied } from '../../core/stats/mann-whitney.ts';
import type { SideCounts, WindowCounts } from './canary-window.ts';
import { BUCKET_VALUES, tallied, tallyMedian } from './latency-tally.ts';

/** One metric compared: both sides' figures as a person reads them, and the test's p-value. */
export interface MetricVerdict {
  readonly metric: CanaryMetric;
  readonly canary: string;
  readonly baseline: string;
  readonly p: number;
  readonly worse: boolean;
}

export type Judgement =
  /** A side had fewer requests than `min_requests`: nothing is decided on this window. */
  | { readonly decided: false; readonly requests: { canary: number; baseline: number } }
  | {
      readonly decided: true;
      readonly requests: { canary: number; baseline: number };
      /** Every metric compared, in the config's order. */
      readonly metrics: readonly MetricVerdict[];
      /** The first metric found worse (the most certain one); undefined: the canary passes. */
      readonly worse: MetricVerdict | undefined;
    };

/**
 * The canary against the baseline over one window. A metric is worse when its test's p-value is
 * under `alpha` (the chance of a false "worse" this look may take: by default 1 − confidence, a
 * look during a step its share, step-looks.ts) divided by the number of metrics compared
 * (Bonferroni): comparing seven things does not give seven chances of a false rollback. Latency
 * is tested against the baseline shifted by `latency_margin`, so "worse" means slower by more
 * than the margin, with confidence.
 */
export function judge(window: WindowCounts, config: CanaryConfig, alpha = 1 - config.confidence): Judgement {
  const { canary, baseline } = window;
  const requests = { canary: canary.requests, baseline: baseline.requests };
  if (canary.requests < config.minRequests || baseline.requests < config.minRequests)
    return { decided: false, requests };
  const perMetric = alpha / config.compare.length;
  const metrics = config.compare.map((metric) =>
    metric === 'latency'
      ? latencyVerdict(canary, baseline, config.latencyMargin, perMetric)
      : countVerdict(metric, canary, baseline, perMetric),
  );
  const worse = metrics.filter((m) => m.worse).sort((a, b) => a.p - b.p)[0];
  return { decided: true, requests, metrics, worse };
}

function countVerdict(
  metric: Exclude<CanaryMetric, 'latency'>,
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
