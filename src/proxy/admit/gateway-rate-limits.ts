import type { GatewayConfig, RateLimitConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { reportEverySecond } from '../../observe/log/report-every-second.ts';
import { type EarlyDrops, RateLimiter } from './rate-limit.ts';

/**
 * The token buckets of every rate-limited route, held once for the whole gateway by the
 * cluster primary: each worker asks here (one IPC round trip) whether a request may pass,
 * so `rate_limit` means the gateway's rate whatever the number of workers. A reload keeps
 * a route's buckets, reshaped when its limit changed, as a worker's Admission does.
 */
export class GatewayRateLimits {
  #byRoute = new Map<string, RateLimiter>();
  readonly #early: ((route: string, dropped: number, maxKeys: number) => void) | undefined;

  /** `early`: told of a route's buckets dropped early for the memory bound (RateLimiter's EarlyDrops). */
  constructor(config: GatewayConfig, early?: (route: string, dropped: number, maxKeys: number) => void) {
    this.#early = early;
    this.update(config);
  }

  update(config: GatewayConfig): void {
    const next = new Map<string, RateLimiter>();
    for (const route of config.routes) {
      if (route.rateLimit === undefined) continue;
      const old = this.#byRoute.get(route.name);
      next.set(
        route.name,
        old === undefined
          ? new RateLimiter(route.rateLimit, undefined, this.#earlyOf(route.name))
          : same(old.config, route.rateLimit)
            ? old
            : old.reshaped(route.rateLimit),
      );
    }
    this.#byRoute = next;
  }

  #earlyOf(route: string): EarlyDrops | undefined {
    const early = this.#early;
    return early && ((dropped, maxKeys) => early(route, dropped, maxKeys));
  }

  /** 0 when the request may pass, else whole seconds to wait; a route without a limit (a reload raced the question) passes. */
  take(route: string, key: string, now: number): number {
    return this.#byRoute.get(route)?.take(key, now) ?? 0;
  }
}

function same(a: RateLimitConfig, b: RateLimitConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The `warn` line of a route's buckets dropped early for the memory bound (at most one a second,
 * with how many times since): more clients than the table holds came within a refill time, and
 * those whose buckets went get a fresh burst.
 */
export function earlyDropLines(
  logger: Pick<Logger, 'warn'>,
): (route: string, dropped: number, maxKeys: number) => void {
  const report = reportEverySecond(
    (last: { route: string; dropped: number; maxKeys: number }, count: number) =>
      logger.warn(
        { route: last.route, dropped: last.dropped, max_keys: last.maxKeys, times: count },
        'rate limit: more clients than its table holds within a refill time: the buckets of the least recent went early, a fresh burst for each of them',
      ),
  );
  return (route, dropped, maxKeys) => report({ route, dropped, maxKeys });
}
