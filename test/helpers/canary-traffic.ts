import { DEFAULTS } from '../../src/core/config/defaults.ts';
import type { CanaryConfig, GatewayConfig } from '../../src/core/config/types.ts';
import { Failure } from '../../src/core/failure/failure.ts';
import { CanaryWindow, type WindowCounts } from '../../src/upstream/canary/canary-window.ts';
import { tempDir } from './temp-dir.ts';

/** How often one version fails, by what the canary's window counts. */
/**
 * What a canary controller built by hand reads of a config: its routes and upstreams, and where
 * it keeps a verdict (a fresh folder each, removed at exit: one controller's verdict is not
 * another's start).
 */
export function controllerConfig(fields: { routes: unknown[]; upstreams: unknown }): GatewayConfig {
  const stateDir = tempDir('candor-canary-state-');
  return { name: 'test', stateDir, ...fields } as unknown as GatewayConfig;
}

export interface VersionFaults {
  /** Share of attempts reset (connection_terminated). */
  readonly reset: number;
  /** Share of attempts with no answer in time (http_response_timeout). */
  readonly slow: number;
  /** Share of answers that are the upstream's own 503. */
  readonly status5xx: number;
  /** Milliseconds added to each answer's latency. */
  readonly extraMs: number;
}

/** A canary of upstream `next` with the defaults but its step and check intervals (ms), for a controller run in a test. */
export function canaryConfig(stepInterval: number, checkInterval: number): CanaryConfig {
  return {
    upstream: 'next',
    steps: [...DEFAULTS.canary.steps],
    stepInterval,
    checkInterval,
    minRequests: DEFAULTS.canary.minRequests,
    maxDuration: 3_600_000,
    compare: [...DEFAULTS.canary.compare],
    confidence: DEFAULTS.canary.confidence,
    latencyMargin: DEFAULTS.canary.latencyMargin,
    latencyP99Factor: DEFAULTS.canary.latencyP99Factor,
    baselineMaxFailedPercent: DEFAULTS.canary.baselineMaxFailedPercent,
    onFailure: 'rollback',
    onSuccess: 'promote',
  };
}

/** A healthy version as the simulations take it: a few failures of its own, on both sides alike. */
export const HEALTHY: VersionFaults = { reset: 0.002, slow: 0.001, status5xx: 0.005, extraMs: 0 };

/** A seeded generator (mulberry32): a simulated run is the same run each time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RESET = new Failure('connection_terminated', 'simulated reset');
const SLOW = new Failure('http_response_timeout', 'simulated timeout');

/**
 * One check_interval of a canary route's traffic, counted by a real CanaryWindow: `requests`
 * attempts, each drawn to the canary with its share (percent), each failing or answering as its
 * version does, latency 5 ms plus an exponential of mean 25 ms (a skewed, heavy-tailed shape).
 */
export function simulatedWindow(
  rng: () => number,
  share: number,
  requests: number,
  faults: { readonly baseline: VersionFaults; readonly canary: VersionFaults },
): WindowCounts {
  const window = new CanaryWindow('stable', 'next');
  for (let i = 0; i < requests; i++) {
    const onCanary = rng() * 100 < share;
    const upstream = onCanary ? 'next' : 'stable';
    const f = onCanary ? faults.canary : faults.baseline;
    const draw = rng();
    const ms = 5 - 25 * Math.log(1 - rng()) + f.extraMs;
    if (draw < f.reset) window.record(upstream, RESET, undefined, ms);
    else if (draw < f.reset + f.slow) window.record(upstream, SLOW, undefined, ms);
    else window.record(upstream, undefined, draw < f.reset + f.slow + f.status5xx ? 503 : 200, ms);
  }
  return window.take();
}
