import { withoutPassword } from '../../core/config/describe-value.ts';
import type { FromEnvironment } from '../../core/config/env.ts';
import { asTemplates } from '../../core/config/env-templates.ts';
import type { GatewayConfig, RouteConfig } from '../../core/config/types.ts';

/**
 * The running config as `GET /config` shows it: every field as loaded, but
 * - a value the environment gave (`Bearer ${TOKEN}` in a header rule, a forward-auth URL, a JWT
 *   cookie name) as the file writes it, `${TOKEN}` where the variable's value is: a secret is put
 *   in the environment to keep it out of files, and whoever reads the config learns from
 *   `${TOKEN}` both that a value is there and where it comes from, which `***` would not say;
 * - the password a URL may carry (`store.redis.url`, `auth.oidc.store.redis.url`,
 *   `tracing.otlp_endpoint`) as `***`, even one
 *   written in the file. Whoever holds the admin token reads the config to see what runs, not to
 *   learn the store's or the collector's credentials.
 * A number or boolean made from a variable (`port: ${PORT}`) is shown as loaded: its field
 * cannot hold `${PORT}` (yaml-source.ts keeps no such value).
 */
export function configView(config: GatewayConfig): GatewayConfig {
  const { fromEnvironment, ...loaded } = config;
  const written = asWritten(loaded, fromEnvironment ?? []);
  const { store, tracing } = written;
  return {
    ...written,
    routes: written.routes.map(withoutSessionStorePassword),
    ...(store === undefined
      ? {}
      : { store: { ...store, redis: { ...store.redis, url: withoutPassword(store.redis.url) } } }),
    ...(tracing === undefined
      ? {}
      : { tracing: { ...tracing, otlpEndpoint: withoutPassword(tracing.otlpEndpoint) } }),
  };
}

/** A route whose OpenID Connect sessions are kept in Redis, that Redis's password as `***`. */
function withoutSessionStorePassword(route: RouteConfig): RouteConfig {
  const access = route.access;
  const auth = access?.auth;
  const oidc = auth?.oidc;
  if (access === undefined || auth === undefined || oidc?.store === undefined) return route;
  const redis = { ...oidc.store.redis, url: withoutPassword(oidc.store.redis.url) };
  return { ...route, access: { ...access, auth: { ...auth, oidc: { ...oidc, store: { redis } } } } };
}

/**
 * `config` with each variable's value, in every string, back to `${NAME}`. Found by value, not
 * by field, because the loader reshapes what it reads (a header value into template parts, a
 * URL into its origin and path). A value also written literally elsewhere shows as `${NAME}`
 * there too: the same text, so the view still reads as what runs.
 */
function asWritten<T>(config: T, fromEnvironment: readonly FromEnvironment[]): T {
  if (fromEnvironment.length === 0) return config;
  const replace = asTemplates(fromEnvironment);
  const pieces = urlPieces(fromEnvironment);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return pieces.get(value) ?? replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
  };
  return walk(config) as T;
}

/**
 * A URL the environment gave whole (`forward: { url: ${AUTH_URL} }`) that the loader keeps in
 * pieces: its origin as the hop's target, its path and query as the hop's `path`. Neither piece
 * holds the whole value, so the search by value finds neither, and a key in the query
 * (`/check?api_key=…`) or the path (a webhook's) would be shown in clear. The path-and-query
 * piece, as the loader makes it (`new URL`'s, escapes and all), is shown as `${NAME}` wherever a
 * string is exactly it; the origin, a host and port, is no secret and stays readable.
 */
function urlPieces(fromEnvironment: readonly FromEnvironment[]): Map<string, string> {
  const pieces = new Map<string, string>();
  for (const { name, value } of fromEnvironment) {
    const url = URL.parse(value);
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) continue;
    const rest = `${url.pathname}${url.search}`;
    if (rest !== '/') pieces.set(rest, `\${${name}}`);
  }
  return pieces;
}
