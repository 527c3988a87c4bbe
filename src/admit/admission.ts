import type { IncomingMessage } from 'node:http';
import type { MaintenanceConfig, RouteConfig, UpstreamConfig } from '../config/types.ts';
import type { Failure } from '../failure/failure.ts';
import { InFlightLimit, type Release } from './in-flight-limit.ts';
import { takeSlots } from './load-shedding.ts';
import { maintenanceFailure, maintenanceOf } from './maintenance.ts';
import { RateLimiter, rateLimitFailure, rateLimitKey } from './rate-limit.ts';

interface RoutePolicies {
  readonly rateLimiter: RateLimiter | undefined;
  readonly inFlight: InFlightLimit | undefined;
}

/** Maintenance set at run time for a route (by name): a mode, null for off, undefined for the config's. */
export type MaintenanceOverride = (route: string) => MaintenanceConfig | null | undefined;

/**
 * The admit policies of one config snapshot, in the order they are asked: maintenance, then
 * the client's rate limit, then load shedding — so a request refused for either of the first
 * two never takes (or is counted against) an in-flight slot.
 */
export class Admission {
  readonly #routes = new Map<RouteConfig, RoutePolicies>();
  readonly #byName = new Map<string, RoutePolicies>();
  readonly #override: MaintenanceOverride;

  /**
   * With `previous` (a reload), a route of the same name keeps its in-flight count (the
   * requests holding slots are still running) and, when its rate limit is unchanged, its
   * buckets: a reload must not hand every client a fresh burst.
   */
  constructor(
    routes: readonly RouteConfig[],
    override: MaintenanceOverride = () => undefined,
    previous?: Admission,
  ) {
    this.#override = override;
    for (const route of routes) {
      const old = previous === undefined ? undefined : previous.#byName.get(route.name);
      const sameRate =
        old?.rateLimiter !== undefined &&
        route.rateLimit !== undefined &&
        JSON.stringify(old.rateLimiter.config) === JSON.stringify(route.rateLimit);
      let inFlight = old?.inFlight;
      if (inFlight !== undefined && route.maxInFlight !== undefined) inFlight.max = route.maxInFlight;
      else
        inFlight =
          route.maxInFlight === undefined
            ? undefined
            : new InFlightLimit(route.maxInFlight, `the route "${route.name}"`);
      const policies = {
        rateLimiter: sameRate ? old?.rateLimiter : route.rateLimit && new RateLimiter(route.rateLimit),
        inFlight,
      };
      this.#routes.set(route, policies);
      this.#byName.set(route.name, policies);
    }
  }

  /** The maintenance mode in force for a route: the admin API's, else the config's. */
  maintenance(route: RouteConfig, upstream: UpstreamConfig): MaintenanceConfig | undefined {
    const set = this.#override(route.name);
    return set === undefined ? maintenanceOf(route, upstream) : (set ?? undefined);
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
    const maintenance = this.maintenance(route, upstream);
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
