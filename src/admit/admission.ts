import type { IncomingMessage } from 'node:http';
import type { RouteConfig, UpstreamConfig } from '../config/types.ts';
import type { Failure } from '../failure/failure.ts';
import { InFlightLimit, type Release } from './in-flight-limit.ts';
import { takeSlots } from './load-shedding.ts';
import { maintenanceFailure, maintenanceOf } from './maintenance.ts';
import { RateLimiter, rateLimitFailure, rateLimitKey } from './rate-limit.ts';

interface RoutePolicies {
  readonly rateLimiter: RateLimiter | undefined;
  readonly inFlight: InFlightLimit | undefined;
}

/**
 * The admit policies of one config snapshot, in the order they are asked: maintenance, then
 * the client's rate limit, then load shedding — so a request refused for either of the first
 * two never takes (or is counted against) an in-flight slot.
 */
export class Admission {
  readonly #routes = new Map<RouteConfig, RoutePolicies>();

  constructor(routes: readonly RouteConfig[]) {
    for (const route of routes) {
      this.#routes.set(route, {
        rateLimiter: route.rateLimit && new RateLimiter(route.rateLimit),
        inFlight:
          route.maxInFlight === undefined
            ? undefined
            : new InFlightLimit(route.maxInFlight, `the route "${route.name}"`),
      });
    }
  }

  /** The release of the slots taken (call it once the request is over), or the failure to answer with. */
  admit(request: {
    readonly route: RouteConfig;
    readonly upstream: UpstreamConfig;
    readonly req: IncomingMessage;
    readonly clientAddress: string;
    readonly listener: InFlightLimit | undefined;
    readonly now: number;
  }): Release | Failure {
    const { route, upstream, req } = request;
    const maintenance = maintenanceOf(route, upstream);
    if (maintenance) return maintenanceFailure(maintenance);
    const policies = this.#routes.get(route);
    const limiter = policies?.rateLimiter;
    if (limiter) {
      const wait = limiter.take(rateLimitKey(limiter.config, req, request.clientAddress), request.now);
      if (wait > 0) return rateLimitFailure(limiter.config, wait);
    }
    return takeSlots([request.listener, policies?.inFlight]);
  }
}
