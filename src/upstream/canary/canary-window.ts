import type { Failure } from '../../core/failure/failure.ts';

/** What a canary's verdict counts per side; each a two-proportion test against `requests`. */
export const CANARY_COUNTS = ['unreachable', 'slow', 'reset', 'garbage', 'status_5xx', 'gateway'] as const;
export type CanaryCount = (typeof CANARY_COUNTS)[number];

/** One side's window: plain numbers and a list, so it crosses the IPC channel and Redis as it is. */
export interface SideCounts {
  requests: number;
  unreachable: number;
  slow: number;
  reset: number;
  garbage: number;
  status_5xx: number;
  gateway: number;
  /** Milliseconds to the response head, a uniform sample of the window's (bounded). */
  latency: number[];
  /** Responses the latency sample was drawn from (the reservoir's denominator). */
  sampled: number;
}

export interface WindowCounts {
  readonly baseline: SideCounts;
  readonly canary: SideCounts;
}

/** Latency samples kept per side per window: the rank test's cost stays bounded whatever the rate. */
export const LATENCY_SAMPLES = 2000;

export function emptySide(): SideCounts {
  return {
    requests: 0,
    unreachable: 0,
    slow: 0,
    reset: 0,
    garbage: 0,
    status_5xx: 0,
    gateway: 0,
    latency: [],
    sampled: 0,
  };
}

/**
 * A canary route's counts since the window began, per side, in one process: what each attempt
 * to the baseline or the canary came to. The attempt loop reports here where it already reports
 * an attempt's outcome (attempts.ts): one counter update, and one latency sample for a response.
 * The controller takes the window (and a fresh one starts) at the end of each interval.
 */
export class CanaryWindow {
  readonly baseline: string;
  readonly canary: string;
  #sides: WindowCounts = { baseline: emptySide(), canary: emptySide() };

  constructor(baseline: string, canary: string) {
    this.baseline = baseline;
    this.canary = canary;
  }

  /**
   * One attempt's outcome on `upstream`: a failure of the four shapes counts as its shape, the
   * gateway's refusal for want of a target as `gateway`, an answer of 500–599 as `status_5xx`.
   * The client's own doings (it left, its deadline) judge nobody and are not counted.
   */
  record(upstream: string, failure: Failure | undefined, status: number | undefined, ms: number): void {
    const side =
      upstream === this.canary
        ? this.#sides.canary
        : upstream === this.baseline
          ? this.#sides.baseline
          : undefined;
    if (side === undefined) return;
    if (failure !== undefined) {
      if (failure.clientsOwn) return;
      const shape = failure.kind.shape;
      if (shape === 'unreachable' || shape === 'slow' || shape === 'reset' || shape === 'garbage')
        side[shape]++;
      else if (shape === 'gateway') side.gateway++;
      else return;
      side.requests++;
      return;
    }
    side.requests++;
    if (status !== undefined && status >= 500 && status <= 599) side.status_5xx++;
    // Algorithm R: every response of the window has the same chance to be in the sample.
    side.sampled++;
    if (side.latency.length < LATENCY_SAMPLES) side.latency.push(ms);
    else {
      const slot = Math.floor(Math.random() * side.sampled);
      if (slot < LATENCY_SAMPLES) side.latency[slot] = ms;
    }
  }

  /** The window so far, and a new one begins. */
  take(): WindowCounts {
    const taken = this.#sides;
    this.#sides = { baseline: emptySide(), canary: emptySide() };
    return taken;
  }
}

/**
 * Windows of several processes (workers, gateways) as one: counts add up; the latency samples
 * are pooled, each process's weighted by the responses it drew from, then cut back to the bound.
 */
export function mergeWindows(windows: readonly WindowCounts[]): WindowCounts {
  return {
    baseline: mergeSides(windows.map((w) => w.baseline)),
    canary: mergeSides(windows.map((w) => w.canary)),
  };
}

function mergeSides(sides: readonly SideCounts[]): SideCounts {
  const merged = emptySide();
  for (const side of sides) {
    merged.requests += side.requests;
    for (const count of CANARY_COUNTS) merged[count] += side[count];
    merged.sampled += side.sampled;
  }
  if (merged.sampled === 0) return merged;
  // Each process gives samples in proportion to the responses it saw, so one busy worker is not
  // outvoted by an idle one's few.
  for (const side of sides) {
    if (side.latency.length === 0) continue;
    const share = Math.min(
      side.latency.length,
      Math.round((LATENCY_SAMPLES * side.sampled) / merged.sampled),
    );
    merged.latency.push(...pick(side.latency, share));
  }
  return merged;
}

/** `count` values drawn without replacement (a partial Fisher-Yates on a copy). */
function pick(values: readonly number[], count: number): number[] {
  if (count >= values.length) return [...values];
  const copy = [...values];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}
