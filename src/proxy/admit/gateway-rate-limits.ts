import type { GatewayConfig, RateLimitConfig } from '../../core/config/types.ts';
import { RateLimiter } from './rate-limit.ts';

/**
 * The token buckets of every rate-limited route, held once for the whole gateway by the
 * cluster primary: each worker asks here (one IPC round trip) whether a request may pass,
 * so `rate_limit` means the gateway's rate whatever the number of workers. A reload keeps
 * a route's buckets, reshaped when its limit changed, as a worker's Admission does.
 */
export class GatewayRateLimits {
  #byRoute = new Map<string, RateLimiter>();

  constructor(config: GatewayConfig) {
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
          ? new RateLimiter(route.rateLimit)
          : same(old.config, route.rateLimit)
            ? old
            : old.reshaped(route.rateLimit),
      );
    }
    this.#byRoute = next;
  }

  /** 0 when the request may pass, else whole seconds to wait; a route without a limit (a reload raced the question) passes. */
  take(route: string, key: string, now: number): number {
    return this.#byRoute.get(route)?.take(key, now) ?? 0;
  }
}

function same(a: RateLimitConfig, b: RateLimitConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
