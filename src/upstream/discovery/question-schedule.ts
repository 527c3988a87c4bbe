import type { DiscoveryConfig } from '../../core/config/types.ts';
import { LONGEST_TIMER_MS } from '../../core/config/units.ts';
import { spread } from '../../core/retry/backoff.ts';

type Schedule = Pick<DiscoveryConfig, 'interval' | 'minTtl' | 'maxTtl'>;

/**
 * How much a re-ask is spread. An answer's refresh only a little (±10 %): gateways and upstreams
 * started together stop asking in the same instant, and a TTL's refresh stays close to it. A
 * failing resolver's re-asks more (±20 %), around a doubling delay rather than full jitter's
 * [0, delay]: a failed name is never asked again at once, `interval` stays the order of the
 * first re-ask, and the doubling itself thins the questions a resolver in trouble gets.
 */
const ANSWERED_SPREAD = 0.1;
const FAILING_SPREAD = 0.2;
/** Doublings at most: past them the cap has long been reached (and 2^n stays finite). */
const MAX_DOUBLINGS = 30;

/**
 * When to ask again after a good answer (ms): its TTL held within `min_ttl`…`max_ttl`, spread
 * and held there again (a long TTL must not hide a change past `max_ttl`); `interval`, spread,
 * for an answer without a TTL (SRV).
 */
export function afterAnswer(config: Schedule, ttl: number | undefined, random = Math.random): number {
  // An interval near the longest a timer waits, spread past it, would fire after 1 ms: a loop.
  if (ttl === undefined) return Math.min(LONGEST_TIMER_MS, spread(config.interval, ANSWERED_SPREAD, random));
  const held = Math.min(config.maxTtl, Math.max(config.minTtl, ttl * 1000));
  return Math.min(config.maxTtl, Math.max(config.minTtl, spread(held, ANSWERED_SPREAD, random)));
}

/**
 * When to ask again after `failures` failed or empty answers in a row (ms): `interval` doubled at
 * each one after the first, up to `max_ttl` (the longest the gateway goes without asking when
 * answered, so the longest a recovery waits to be seen; `interval` if that is longer), spread.
 */
export function afterFailure(config: Schedule, failures: number, random = Math.random): number {
  const cap = Math.max(config.interval, config.maxTtl);
  const doubled = config.interval * 2 ** Math.min(Math.max(failures - 1, 0), MAX_DOUBLINGS);
  return Math.min(cap, spread(Math.min(cap, doubled), FAILING_SPREAD, random));
}
