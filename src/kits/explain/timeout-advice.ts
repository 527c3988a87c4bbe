import type { ClientDeadlines, UpstreamTally } from './tally.ts';

/** Fewer answered requests than this are too few to compare with the timeout at all. */
const MIN_ANSWERED = 10;
/**
 * Fewer answered requests than this have no p99 of their own (1% of them is less than one
 * request: the "p99" is their slowest), so no timeout is suggested from it.
 */
export const MIN_FOR_P99 = 100;

type TimeoutVerdict =
  /** Answered requests come close to the timeout: it cuts legitimately slow work. */
  | 'timeout_cuts_slow_work'
  /** Answered requests finish far below it: the ones that timed out hung. */
  | 'upstream_hangs'
  /** The upstream answered nothing (or too little) to compare with. */
  | 'nothing_to_compare'
  /** The log does not record how long the timeouts waited. */
  | 'unmeasured'
  /** Every one was cut by the client's own deadline (gRPC's grpc-timeout), none by the proxy's timeout. */
  | 'client_deadline';

export interface TimeoutFinding {
  readonly upstream: string;
  /** Head timeouts the proxy's own timeout cut. */
  readonly timeouts: number;
  /**
   * Requests the client's own deadline cut (gRPC's grpc-timeout, shorter than the proxy's), with
   * the shortest and longest deadline and where it cut them (before anything was sent, waiting
   * for the head, mid-body): kept apart, since no proxy timeout would change them.
   */
  readonly clientDeadlines?: Readonly<ClientDeadlines>;
  /** Spread of the waits of the requests that timed out, in ms (min and max exact, as logged). */
  readonly waited?: {
    readonly min: number;
    readonly p10: number;
    readonly p50: number;
    readonly p90: number;
    readonly max: number;
  };
  /** Whether those waits hug one value: the configured timeout cut them. */
  readonly hugsTimeout?: boolean;
  /** The timeout the waits suggest is configured (their p10), in ms. */
  readonly configuredMs?: number;
  readonly answered: number;
  readonly answeredP99Ms?: number;
  readonly verdict: TimeoutVerdict;
  /**
   * A timeout from the measured p99 of answered requests (p99 × 1.5, rounded up), in ms; only
   * from MIN_FOR_P99 answered requests or more.
   */
  readonly suggestedMs?: number;
  /**
   * More than 1% of the requests were cut at the timeout (the slow work it cuts): the answered
   * ones' p99 leaves out the slowest, so the upstream's own p99 is above the timeout, unmeasured,
   * and suggestedMs is a floor, not a fit.
   */
  readonly suggestedFloor?: true;
}

const step = (ms: number) => 10 ** Math.max(0, Math.floor(Math.log10(ms)) - 1);

/** Rounds up to two significant digits: 1437 → 1500, 96 → 96. */
export function roundUp(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / step(ms)) * step(ms);
}

/** Rounds to two significant digits: 1012 → 1000. */
export function roundNear(ms: number): number {
  return ms <= 0 ? 0 : Math.round(ms / step(ms)) * step(ms);
}

/**
 * For an upstream with head timeouts (504 http_response_timeout): did the timeout cut slow
 * work or hung requests, and what timeout the answered requests' p99 supports.
 */
export function adviseTimeout(upstream: string, tally: UpstreamTally): TimeoutFinding | undefined {
  const measured = tally.timedOut.count;
  const timeouts = measured + tally.timeoutsUnmeasured;
  const clientDeadlines = tally.clientDeadlines.count > 0 ? { ...tally.clientDeadlines } : undefined;
  if (timeouts === 0 && clientDeadlines === undefined) return undefined;
  const answered = tally.answered.count;
  const p99 = tally.answered.quantile(0.99);
  const answeredP99Ms = p99 === undefined ? undefined : Math.round(p99);
  if (timeouts === 0)
    return { upstream, timeouts, clientDeadlines, answered, answeredP99Ms, verdict: 'client_deadline' };
  if (measured === 0)
    return { upstream, timeouts, clientDeadlines, answered, answeredP99Ms, verdict: 'unmeasured' };
  const p10 = tally.timedOut.quantile(0.1) ?? 0;
  const p50 = tally.timedOut.quantile(0.5) ?? 0;
  const p90 = tally.timedOut.quantile(0.9) ?? 0;
  const hugsTimeout = p10 >= 0.75 * p50 && p90 <= 1.5 * p50;
  const configuredMs = roundNear(p10);
  const base = {
    upstream,
    timeouts,
    clientDeadlines,
    waited: {
      min: tally.timedOut.min,
      p10: Math.round(p10),
      p50: Math.round(p50),
      p90: Math.round(p90),
      max: tally.timedOut.max,
    },
    hugsTimeout,
    configuredMs,
    answered,
    answeredP99Ms,
  };
  if (p99 === undefined || answered < MIN_ANSWERED) return { ...base, verdict: 'nothing_to_compare' };
  const verdict = p99 >= 0.8 * configuredMs ? 'timeout_cuts_slow_work' : 'upstream_hangs';
  if (answered < MIN_FOR_P99) return { ...base, verdict };
  const floor = verdict === 'timeout_cuts_slow_work' && measured > 0.01 * (answered + measured);
  return { ...base, verdict, suggestedMs: roundUp(p99 * 1.5), ...(floor ? { suggestedFloor: true } : {}) };
}
