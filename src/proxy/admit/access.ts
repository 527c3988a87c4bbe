import type {
  ForwardAuthConfig,
  JwtAuthConfig,
  OidcAuthConfig,
  RouteConfig,
} from '../../core/config/types.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { Circuit } from '../../core/retry/circuit.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { createUpstream, type Upstream } from '../../upstream/targets/upstream.ts';
import type { ServiceCall } from '../stages/service-call.ts';
import { AuthHopHealth } from './auth-hop-health.ts';
import type { CorsPolicy } from './cors.ts';
import { type AskAuthService, ForwardAuth } from './forward-auth.ts';
import { RemoteJwks } from './jwks-source.ts';
import { withoutGatewayCookies } from './oidc/gateway-cookies.ts';
import type { IssuerHop } from './oidc/issuer-hop.ts';
import type { OidcAuth } from './oidc/oidc-auth.ts';
import type { RenewalPeers } from './oidc/renewal-peers.ts';
import type { SessionStore, SessionStoreStatus } from './oidc/session-store.ts';
import { RouteAccess } from './route-access.ts';

/** How the auth hops reach their services: the upstreams of the snapshot, and the session's attempt loop (session/auth-call.ts). */
export interface AuthHops {
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly ask: (upstream: Upstream, call: ServiceCall) => ReturnType<AskAuthService>;
  /** `errors.expose_upstream_address`: a hop named by its URL shows its address to clients. */
  readonly exposeAddresses: boolean;
  /** Under `candor serve --workers N`: the other workers, so a session is renewed once for the gateway. */
  readonly renewals?: RenewalPeers;
}

/**
 * The next hop a client is shown for a forward-auth hop that failed: a named upstream's name, or
 * for a `url` (whose only name is its address, `auth:HOST:PORT`) that address only where the
 * config exposes addresses, else `auth:forward`, as a route's upstream is shown by its name.
 */
export function shownForwardHop(config: ForwardAuthConfig, exposeAddresses: boolean): string {
  return config.shared || exposeAddresses ? `auth:${config.name}` : 'auth:forward';
}

/** The same for a JWKS endpoint, whose only name is its URL's `HOST:PORT`: else `auth:jwks`. */
export function shownJwksHop(config: JwtAuthConfig, exposeAddresses: boolean): string {
  return exposeAddresses ? `auth:${config.name}` : 'auth:jwks';
}

/** The same for an OpenID provider, whose only name is its issuer's `HOST:PORT`: else `auth:oidc`. */
export function shownOidcHop(config: OidcAuthConfig, exposeAddresses: boolean): string {
  return exposeAddresses ? oidcHopName(config.issuer) : 'auth:oidc';
}

/**
 * An OpenID provider's hop name: `auth:HOST`, and its path where it has one. Providers on one host
 * told apart by their paths (Keycloak's realms, a tenant's issuer) are hops of their own, each
 * failing, counted and opening its circuit on its own: by their host alone they were one row, a
 * failing realm's failures summed under a working one's closed circuit.
 */
export function oidcHopName(issuer: string): string {
  const url = new URL(issuer);
  return `auth:${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The OpenID Connect modules (oauth4webapi, jose's JWE), loaded only by a gateway whose config
 * signs in with them (loadOidc), as ioredis is only with a store: a worker loads nothing its
 * config does not use.
 */
let oidcModules:
  | { IssuerHop: typeof IssuerHop; OidcAuth: typeof OidcAuth; SessionStore?: typeof SessionStore }
  | undefined;

/**
 * Loads the OpenID Connect modules when a route of `routes` has `auth.oidc` (and the session
 * store, ioredis with it, when one keeps its sessions in Redis); before Access is built for them.
 */
export async function loadOidc(routes: readonly RouteConfig[]): Promise<void> {
  const oidc = routes.map((route) => route.access?.auth?.oidc).filter((config) => config !== undefined);
  if (oidc.length === 0) return;
  if (oidcModules === undefined) {
    const [hop, auth] = await Promise.all([import('./oidc/issuer-hop.ts'), import('./oidc/oidc-auth.ts')]);
    oidcModules = { IssuerHop: hop.IssuerHop, OidcAuth: auth.OidcAuth };
  }
  if (oidcModules.SessionStore === undefined && oidc.some((config) => config.store !== undefined))
    oidcModules.SessionStore = (await import('./oidc/session-store.ts')).SessionStore;
}

/** An auth hop as the status page shows it: its record, and the upstream (with its circuit) it goes through. */
export interface AuthHopView {
  readonly health: AuthHopHealth;
  readonly upstream: Upstream | undefined;
  /** The circuit its calls go through: its upstream's, or an OpenID provider's own; a JWKS endpoint has none. */
  readonly circuit: Circuit | undefined;
}

/**
 * The access rules of every route of one config snapshot: IP lists, CORS, then authentication.
 * A route without any has no entry and is never asked (RouteConfig.access).
 */
export class Access {
  readonly #routes = new Map<RouteConfig, RouteAccess>();
  /** The key sets fetched from JWKS URLs, by URL and refresh interval. */
  readonly #keySets = new Map<string, RemoteJwks>();
  /** The upstreams forward-auth URLs made for themselves ("auth:HOST"), by name. */
  readonly #ownUpstreams = new Map<string, Upstream>();
  /** Each forward-auth hop's record, by its name. */
  readonly #forwardHealth = new Map<string, AuthHopView>();
  /** Each JWKS host's record, by its name: the key sets it serves (one per URL) are one hop, as Proxy-Status names them. */
  readonly #jwksHealth = new Map<string, AuthHopHealth>();
  /** Each OpenID provider, by its issuer: its discovery document, keys, circuit and answered states, kept across reloads. */
  readonly #issuers = new Map<string, IssuerHop>();
  /** Each Redis sessions are kept in, by its URL, timeout and prefix: one connection for the routes that name it, kept across reloads. */
  readonly #sessionStores = new Map<string, SessionStore>();
  /** The previous snapshot's session stores this one no longer names: closed by closeDropped(). */
  readonly #droppedStores: SessionStore[] = [];

  /**
   * With `previous` (a reload), a JWKS URL still named keeps its fetched keys: a reload while
   * the endpoint is down must not turn good tokens into 502s. An auth URL still named keeps its
   * upstream (pool, circuit, budget) as an upstream kept by name does; one no longer named
   * retires its pool. A hop keeps its record.
   */
  constructor(
    routes: readonly RouteConfig[],
    logger: Logger,
    hops: AuthHops,
    trust: TrustList,
    previous?: Access,
  ) {
    const jwks = (config: JwtAuthConfig): RemoteJwks | undefined => {
      if (config.jwksUrl === undefined) return undefined;
      const key = `${config.jwksMinRefresh} ${config.jwksUrl}`;
      let set = this.#keySets.get(key) ?? (previous === undefined ? undefined : previous.#keySets.get(key));
      const name = `auth:${config.name}`;
      if (set === undefined) {
        set = new RemoteJwks(
          config.jwksUrl,
          this.#jwksHealth.get(name) ??
            (previous === undefined ? undefined : previous.#jwksHealth.get(name)) ??
            new AuthHopHealth(name, 'jwks'),
          config.jwksMinRefresh,
          logger,
        );
        // The URL named before with another refresh interval: its keys stay.
        const kept = previous === undefined ? undefined : previous.#keySetOf(config.jwksUrl);
        if (kept !== undefined) set.adopt(kept);
      }
      this.#keySets.set(key, set);
      this.#jwksHealth.set(name, set.health);
      return set;
    };
    // The gateway's own cookies, those of every route that signs in, never go to an auth service.
    const ownCookies = withoutGatewayCookies(
      routes.flatMap((route) => route.access?.auth?.oidc?.cookieName ?? []),
    );
    const forward = (config: ForwardAuthConfig, route: RouteConfig): ForwardAuth => {
      const upstream = config.shared
        ? (hops.upstreams.get(config.upstream.name) as Upstream)
        : this.#authUpstream(config, previous);
      const name = `auth:${config.name}`;
      const health =
        this.#forwardHealth.get(name)?.health ??
        (previous === undefined ? undefined : previous.#forwardHealth.get(name)?.health) ??
        new AuthHopHealth(name, 'forward');
      this.#forwardHealth.set(name, { health, upstream, circuit: upstream.circuit });
      const shown = shownForwardHop(config, hops.exposeAddresses);
      return new ForwardAuth(config, route, shown, (call) => hops.ask(upstream, call), health, ownCookies);
    };
    const oidc = (config: OidcAuthConfig): OidcAuth => {
      if (oidcModules === undefined) throw new Error('auth.oidc: the gateway built a route before loadOidc');
      const { IssuerHop, OidcAuth } = oidcModules;
      const key = config.issuer;
      const shared = this.#issuers.get(key);
      let issuer = shared ?? (previous === undefined ? undefined : previous.#issuers.get(key));
      issuer ??= new IssuerHop(config.issuer, new AuthHopHealth(oidcHopName(config.issuer), 'oidc'), logger);
      // Not parts of the key: a reload that changes them keeps the hop (its document, keys and
      // the answered states that refuse a replayed callback). The routes of one snapshot sharing
      // a provider share its calls: the longest timeout (none is cut before its own), the
      // shortest key interval.
      issuer.timeout = shared === undefined ? config.timeout : Math.max(shared.timeout, config.timeout);
      issuer.jwksMinRefresh =
        shared === undefined ? config.jwksMinRefresh : Math.min(shared.jwksMinRefresh, config.jwksMinRefresh);
      this.#issuers.set(key, issuer);
      return new OidcAuth(
        config,
        issuer,
        process.env,
        this.#sessionStore(config, logger, previous),
        hops.renewals,
      );
    };
    const oidcHops = {
      auth: oidc,
      shown: (config: OidcAuthConfig) => shownOidcHop(config, hops.exposeAddresses),
    };
    for (const route of routes)
      if (route.access)
        this.#routes.set(
          route,
          new RouteAccess(
            route.access,
            trust,
            jwks,
            (config) => forward(config, route),
            (config) => shownJwksHop(config, hops.exposeAddresses),
            oidcHops,
          ),
        );
    for (const [name, old] of previous === undefined ? [] : previous.#ownUpstreams)
      if (!this.#ownUpstreams.has(name)) for (const target of old.targets) target.pool.retire();
    for (const [key, old] of previous === undefined ? [] : previous.#sessionStores)
      if (!this.#sessionStores.has(key)) this.#droppedStores.push(old);
  }

  /**
   * Closes the session stores the previous snapshot had and this one does not name: once the
   * previous snapshot's requests have ended (the reload calls it then: retired-snapshots.ts), not
   * when this one is built, while they may still read a session in them.
   */
  closeDropped(): void {
    for (const store of this.#droppedStores.splice(0)) store.close();
  }

  /** The session store of an OpenID Connect route with `store.redis`: the one this or the last snapshot opened for the same Redis, or a new one. */
  #sessionStore(
    config: OidcAuthConfig,
    logger: Logger,
    previous: Access | undefined,
  ): SessionStore | undefined {
    const redis = config.store?.redis;
    if (redis === undefined) return undefined;
    const key = `${redis.timeout} ${redis.prefix} ${redis.url}`;
    let store =
      this.#sessionStores.get(key) ?? (previous === undefined ? undefined : previous.#sessionStores.get(key));
    if (store === undefined) {
      const SessionStore = oidcModules?.SessionStore;
      if (SessionStore === undefined)
        throw new Error('auth.oidc.store: the gateway built a route before loadOidc');
      store = new SessionStore(redis, logger);
    }
    this.#sessionStores.set(key, store);
    return store;
  }

  /** A key set this snapshot fetches from `url`, whatever its refresh interval. */
  #keySetOf(url: string): RemoteJwks | undefined {
    for (const set of this.#keySets.values()) if (set.url === url) return set;
    return undefined;
  }

  /**
   * The one-target upstream of an auth URL, kept by its name: the routes that name one host
   * share its pool and circuit (the first route's settings build it).
   */
  #authUpstream(config: ForwardAuthConfig, previous: Access | undefined): Upstream {
    const { name } = config.upstream;
    let upstream = this.#ownUpstreams.get(name);
    if (upstream === undefined) {
      upstream = createUpstream(
        config.upstream,
        previous === undefined ? undefined : previous.#ownUpstreams.get(name),
      );
      this.#ownUpstreams.set(name, upstream);
    }
    return upstream;
  }

  /** Every auth hop of the snapshot (forward-auth services, then JWKS endpoints), for the status page. */
  authHops(): AuthHopView[] {
    return [
      ...this.#forwardHealth.values(),
      ...[...this.#jwksHealth.values()].map((health) => ({
        health,
        upstream: undefined,
        circuit: undefined,
      })),
      ...[...this.#issuers.values()].map((issuer) => ({
        health: issuer.health,
        upstream: undefined,
        circuit: issuer.circuit,
      })),
    ];
  }

  /** The Redis each OpenID Connect route with `store.redis` keeps its sessions in, once each, for the status page. */
  sessionStores(): SessionStoreStatus[] {
    return [...this.#sessionStores.values()].map((store) => store.status());
  }

  /** Closes the connections of the auth URLs' own upstreams (the gateway stops). */
  async close(): Promise<void> {
    for (const store of this.#sessionStores.values()) store.close();
    await Promise.all([...this.#ownUpstreams.values()].map((upstream) => upstream.close()));
  }

  /** The route's access rules (its access stage's: access-stage.ts); undefined: it has none. */
  of(route: RouteConfig): RouteAccess | undefined {
    return this.#routes.get(route);
  }

  /** The route's CORS rules (built once, with its access), which its CORS stage applies to every answer; undefined: none. */
  corsOf(route: RouteConfig): CorsPolicy | undefined {
    return this.#routes.get(route)?.cors;
  }
}
