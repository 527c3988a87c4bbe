import type {
  MaintenanceConfig,
  PerClientLimits,
  RateLimitConfig,
  RouteConfig,
  UpstreamConfig,
} from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { PerKeyCount } from '../../core/limits/per-key-count.ts';
import { sliceOf, type WorkerShare } from '../../core/limits/worker-share.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { clientKey, MAX_CLIENTS, takeClientSlot } from './client-slots.ts';
import { InFlightLimit, type Release } from './in-flight-limit.ts';
import { bothReleased, takeSlots } from './load-shedding.ts';
import { maintenanceFailure, maintenanceOf } from './maintenance.ts';
import { type EarlyDrops, RateLimiter, rateLimitFailure, rateLimitKey } from './rate-limit.ts';
import { storeDeniedFailure } from './rate-store-verdict.ts';
import type { RedisRates } from './redis-rates.ts';

/**
 * A worker's exact share of a rate limit, for when the primary does not answer: the rate
 * divided by the workers, the burst split so the shares add up to it (worker i gets one
 * more while i < burst mod N). A share of 0 tokens passes nothing: the price of exactness.
 */
function rateShare(limit: RateLimitConfig, share: WorkerShare): RateLimitConfig {
  return { ...limit, rate: limit.rate / share.of, burst: sliceOf(limit.burst, share) };
}

/**
 * A route's own buckets after a reload: the old ones as they are when its limit is unchanged,
 * reshaped when it changed (each client's tokens kept, as the store keeps them: a reload hands
 * nobody a fresh burst), new ones for a route that had no limit.
 */
function rateLimiterOf(
  limit: RateLimitConfig | undefined,
  kept: RateLimiter | undefined,
  shared: SharedRates | undefined,
  early: EarlyDrops | undefined,
): RateLimiter | undefined {
  if (limit === undefined) return undefined;
  const shape = shared ? rateShare(limit, shared.share) : limit;
  if (kept === undefined) return new RateLimiter(shape, undefined, early);
  return JSON.stringify(kept.config) === JSON.stringify(shape) ? kept : kept.reshaped(shape);
}

interface RoutePolicies {
  /** The route's limit as configured (a cluster worker's own bucket holds only its share of it). */
  readonly rateLimit: RateLimitConfig | undefined;
  readonly rateLimiter: RateLimiter | undefined;
  readonly inFlight: InFlightLimit | undefined;
}

/**
 * The gateway-wide buckets of a cluster (held by the primary, see gateway-rate-limits.ts),
 * asked over IPC; `askRate` resolves undefined when no answer came in time.
 */
interface SharedRates {
  readonly share: WorkerShare;
  askRate(route: string, key: string): Promise<number | undefined>;
}

/** Maintenance set at run time for a route (by name): a mode, null for off, undefined for the config's. */
type MaintenanceOverride = (route: string) => MaintenanceConfig | null | undefined;

/** Where a request's limit left unchecked is told: its log record (request-record.ts). */
type UncheckedLimits = Pick<RequestRecord, 'rateLimitUnchecked'>;

/** `rate_limit_unchecked` of a request a cluster worker judged alone (cluster-link.ts's RATE_ANSWER_MS). */
const PRIMARY_LATE =
  "the primary did not answer within 50 ms: judged on this worker's share of the limit alone";

/** What the slots a request takes are counted by: its listener, its client, who its auth admitted. */
interface SlotsRequest {
  readonly listener: InFlightLimit | undefined;
  readonly clientAddress: string;
  readonly identity?: string;
}

/**
 * The admit policies of one config snapshot, in the order they are asked: maintenance, then
 * the client's rate limit, then load shedding — so a request refused for either of the first
 * two never takes (or is counted against) an in-flight slot.
 */
export class Admission {
  readonly #routes = new Map<RouteConfig, RoutePolicies>();
  readonly #byName = new Map<string, RoutePolicies>();
  readonly #override: MaintenanceOverride;
  readonly #shared: SharedRates | undefined;
  readonly #store: RedisRates | undefined;
  /** `limits.per_client` with `key: identity`: its requests are counted here, after auth; else undefined. */
  readonly #perClient: PerClientLimits | undefined;
  /** Requests in flight by user (or, for a request no auth named, by address): kept across reloads. */
  readonly #clients: PerKeyCount;

  /**
   * With `previous` (a reload), a route of the same name keeps its in-flight count (the
   * requests holding slots are still running) and its buckets, reshaped when its rate limit
   * changed: a reload must not hand every client a fresh burst. With a `store` (Redis), every
   * rate limit is decided there, shared by every gateway and worker on it: no bucket is kept here.
   */
  constructor(
    routes: readonly RouteConfig[],
    override: MaintenanceOverride = () => undefined,
    previous?: Admission,
    shared?: SharedRates,
    store?: RedisRates,
    perClient?: PerClientLimits,
    /** Told of a route's buckets dropped early for the memory bound (gateway-rate-limits.ts's earlyDropLines). */
    early?: (route: string, dropped: number, maxKeys: number) => void,
  ) {
    this.#perClient = perClient?.key === 'identity' ? perClient : undefined;
    this.#clients = previous === undefined ? new PerKeyCount(MAX_CLIENTS) : previous.#clients;
    this.#override = override;
    this.#shared = shared;
    this.#store = store;
    for (const route of routes) {
      const old = previous === undefined ? undefined : previous.#byName.get(route.name);
      let inFlight = old?.inFlight;
      if (inFlight !== undefined && route.maxInFlight !== undefined) {
        inFlight.max = route.maxInFlight;
        inFlight.of = route.maxInFlightOf;
      } else
        inFlight =
          route.maxInFlight === undefined
            ? undefined
            : new InFlightLimit(route.maxInFlight, `the route "${route.name}"`, route.maxInFlightOf);
      const policies = {
        rateLimit: route.rateLimit,
        // The old buckets are kept only if there are some: a snapshot that used the store has none.
        rateLimiter: store
          ? undefined
          : rateLimiterOf(
              route.rateLimit,
              old?.rateLimiter,
              shared,
              early && ((dropped, maxKeys) => early(route.name, dropped, maxKeys)),
            ),
        inFlight,
      };
      this.#routes.set(route, policies);
      this.#byName.set(route.name, policies);
    }
  }

  /** The maintenance mode in force for a route: the admin API's, else the config's. */
  maintenance(route: RouteConfig, upstream: UpstreamConfig | undefined): MaintenanceConfig | undefined {
    const set = this.#override(route.name);
    return set === undefined ? maintenanceOf(route, upstream) : (set ?? undefined);
  }

  /**
   * The release of the slots taken (call it once the request is over), or the failure to
   * answer with. With a store, a rate-limited route asks Redis, and in a cluster without one
   * the primary's bucket, so its answer comes later (a promise); every other request is
   * decided here and now.
   */
  admit(request: {
    readonly route: RouteConfig;
    /** Absent: a route that answers itself (its static files). */
    readonly upstream: UpstreamConfig | undefined;
    /** The request's fields by lowercase name (a rate limit may key on one). */
    readonly fields: Readonly<Record<string, string | string[] | undefined>>;
    readonly clientAddress: string;
    /** The proxies whose X-Forwarded-For names the client a rate limit by client counts. */
    readonly trust: TrustList;
    readonly listener: InFlightLimit | undefined;
    /**
     * A request of the gateway's own (a stored answer's background refresh, made from the client
     * request that found it stale): no client's rate limit counts it, else that client paid a
     * token for it (a 429 it never earned), or the refresh was refused in its name.
     */
    readonly ownRefresh?: boolean;
    /** Who the route's auth admitted (the log's `user`): a `rate_limit.key: identity` bucket's. */
    readonly identity?: string;
    /** The request's log record: a limit the store left unchecked (on_error allow) is told there. */
    readonly record?: UncheckedLimits;
  }): Release | Failure | Promise<Release | Failure> {
    const { route, upstream, fields } = request;
    const maintenance = this.maintenance(route, upstream);
    if (maintenance) return maintenanceFailure(maintenance);
    const policies = this.#routes.get(route);
    const limiter = policies?.rateLimiter;
    const limit = policies?.rateLimit;
    // The slots are taken last, once every other policy let the request through (no closure made for it).
    const inFlight = policies?.inFlight;
    const store = this.#store;
    if (request.ownRefresh === true) return takeSlots(request.listener, inFlight);
    if (limit && store) {
      const key = rateLimitKey(limit, fields, request.clientAddress, request.trust, request.identity);
      return this.#askStore(store, request, limit, key, inFlight);
    }
    if (limiter && limit) {
      const key = rateLimitKey(limit, fields, request.clientAddress, request.trust, request.identity);
      if (this.#shared) return this.#askShared(this.#shared, request, limiter, limit, key, inFlight);
      // The clock read here only: a route without a rate limit read it for nothing (some 30 ns).
      const wait = limiter.take(key, performance.now());
      if (wait > 0) return rateLimitFailure(limit, key, wait);
    }
    return this.#slots(request, inFlight);
  }

  // The shared stores' answers come in methods apart: their closures in admit()'s body made every
  // request allocate the context they capture, rate-limited or not.

  #askStore(
    store: RedisRates,
    request: SlotsRequest & { readonly route: RouteConfig; readonly record?: UncheckedLimits },
    limit: RateLimitConfig,
    key: string,
    inFlight: InFlightLimit | undefined,
  ): Promise<Release | Failure> {
    return store.take(request.route.name, limit, key).then((answer) => {
      if (typeof answer === 'number')
        return answer > 0 ? rateLimitFailure(limit, key, answer) : this.#slots(request, inFlight);
      if ('storeDenied' in answer) return storeDeniedFailure(answer);
      // Let through by on_error allow: its line says its limit was not checked, and why.
      if (request.record !== undefined) request.record.rateLimitUnchecked = answer.storeAllowed;
      return this.#slots(request, inFlight);
    });
  }

  #askShared(
    shared: SharedRates,
    request: SlotsRequest & { readonly route: RouteConfig; readonly record?: UncheckedLimits },
    limiter: RateLimiter,
    limit: RateLimitConfig,
    key: string,
    inFlight: InFlightLimit | undefined,
  ): Promise<Release | Failure> {
    return shared.askRate(request.route.name, key).then((answer) => {
      // No answer in time: this worker decides alone, on its exact share of the limit, and its
      // line says so (the gateway may then pass up to the burst again: limits.md).
      if (answer === undefined && request.record !== undefined)
        request.record.rateLimitUnchecked = PRIMARY_LATE;
      const wait = answer ?? limiter.take(key, performance.now());
      return wait > 0 ? rateLimitFailure(limit, key, wait) : this.#slots(request, inFlight);
    });
  }

  /**
   * The load-shedding slots, then with `per_client.key: identity` the client's: the user the
   * route's auth admitted, else the client's address (so an anonymous client is still bounded).
   */
  #slots(request: SlotsRequest, inFlight: InFlightLimit | undefined): Release | Failure {
    const taken = takeSlots(request.listener, inFlight);
    const limits = this.#perClient;
    if (limits === undefined || taken instanceof Failure) return taken;
    const mine = takeClientSlot(
      this.#clients,
      clientKey(request.clientAddress, request.identity),
      limits.requests,
      ['request in flight', 'requests in flight'],
    );
    if (!(mine instanceof Failure)) return bothReleased(taken, mine);
    taken();
    return mine;
  }
}
