/**
 * What a canary's verdict compares, canary against baseline, each on its own (judge.ts): the
 * choices of `canary.compare` (schema-canary.ts), its default (defaults.ts: every one), and the
 * CanaryMetric type (route-config.ts). Its own module, free of the schema's library, for defaults.ts.
 */
export const CANARY_METRICS = [
  'unreachable',
  'slow',
  'reset',
  'garbage',
  'status_5xx',
  'gateway',
  'latency',
  'latency_p99',
] as const;
