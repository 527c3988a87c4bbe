/** The runtime form of a route's access control (schema-access.ts): absent when it has none. */

import { resolve } from 'node:path';
import { DEFAULTS } from './defaults.ts';
import { normalTyp } from './policy-values.ts';
import { parseHashKey } from './routing-values.ts';
import type { RawConfig } from './schema.ts';
import type {
  AuthConfig,
  ClientCertificateAuthConfig,
  ClientCertificateSan,
  CorsConfig,
  ForwardAuthConfig,
  ForwardCacheConfig,
  JwtAuthConfig,
  OidcAuthConfig,
  RouteAccessConfig,
  UpstreamConfig,
} from './types.ts';
import { parseDuration } from './units.ts';

type RawRoute = RawConfig['routes'][number];

/** What a browser's script may always read of a gateway's answer: what it needs to tell which hop failed. */
// WWW-Authenticate: a 401's challenge and its error="invalid_token" (RFC 6750 §3), which a browser app reads
// to know that it must get a new token, the gateway's own 401s and an upstream's alike.
const GATEWAY_FIELDS = ['Proxy-Status', 'X-Request-Id', 'Retry-After', 'WWW-Authenticate'];

export function toAccess(
  raw: RawRoute,
  baseDir: string,
  upstreams: AuthUpstreams,
): RouteAccessConfig | undefined {
  if (raw.allow === undefined && raw.deny === undefined && raw.cors === undefined && raw.auth === undefined)
    return undefined;
  return {
    ...(raw.allow === undefined ? {} : { allow: [...raw.allow] }),
    ...(raw.deny === undefined ? {} : { deny: [...raw.deny] }),
    ...(raw.cors === undefined ? {} : { cors: toCors(raw.cors) }),
    ...(raw.auth === undefined ? {} : { auth: toAuth(raw.auth, baseDir, upstreams) }),
  };
}

/** Builds the upstream of an auth hop: a named one's config, or a one-target upstream of the hop's own. */
export type AuthUpstreams = {
  readonly named: (name: string) => UpstreamConfig;
  readonly own: (name: string, origin: string, timeout: number) => UpstreamConfig;
};

function toAuth(raw: NonNullable<RawRoute['auth']>, baseDir: string, upstreams: AuthUpstreams): AuthConfig {
  const { basic, jwt, forward, oidc } = raw;
  return {
    ...(oidc === undefined ? {} : { oidc: toOidc(oidc) }),
    ...(forward === undefined ? {} : { forward: toForward(forward, upstreams) }),
    ...(jwt === undefined ? {} : { jwt: toJwt(jwt, baseDir) }),
    ...(basic === undefined
      ? {}
      : {
          basic: {
            usersFile: resolve(baseDir, basic.users_file),
            realm: basic.realm ?? DEFAULTS.auth.realm,
          },
        }),
    ...(raw.client_certificate === undefined
      ? {}
      : { clientCertificate: toClientCertificate(raw.client_certificate) }),
    forwardAuthorization: raw.forward_authorization ?? DEFAULTS.auth.forwardAuthorization,
    ...(raw.identity_header === undefined ? {} : { identityHeader: raw.identity_header.toLowerCase() }),
  };
}

function toClientCertificate(
  raw: NonNullable<NonNullable<RawRoute['auth']>['client_certificate']>,
): ClientCertificateAuthConfig {
  const identity = raw.identity ?? DEFAULTS.auth.clientCertificateIdentity;
  return {
    subjects: [...new Set(raw.subjects ?? [])],
    // The schema's pattern holds TYPE:value, the type one of SAN_TYPES.
    sans: (raw.sans ?? []).map((san) => {
      const colon = san.indexOf(':');
      const type = san.slice(0, colon) as ClientCertificateSan['type'];
      const value = san.slice(colon + 1);
      return { type, value: type === 'dns' ? value.toLowerCase() : value };
    }),
    identity: identity === 'cn' ? 'cn' : (identity.slice(4) as ClientCertificateSan['type']),
  };
}

function toForward(
  raw: NonNullable<NonNullable<RawRoute['auth']>['forward']>,
  upstreams: AuthUpstreams,
): ForwardAuthConfig {
  const timeout = parseDuration(raw.timeout ?? DEFAULTS.auth.forwardTimeout) ?? 0;
  // The checks made sure there is a url or an upstream, not both.
  const url = raw.url === undefined ? undefined : new URL(raw.url);
  const name = url === undefined ? (raw.upstream as string) : url.host;
  return {
    name,
    upstream: url === undefined ? upstreams.named(name) : upstreams.own(`auth:${name}`, url.origin, timeout),
    shared: url === undefined,
    path: url === undefined ? (raw.path ?? DEFAULTS.auth.forwardPath) : `${url.pathname}${url.search}`,
    timeout,
    sendHeaders: (raw.send_headers ?? DEFAULTS.auth.forwardSendHeaders).map((n) => n.toLowerCase()),
    copyHeaders: (raw.copy_headers ?? []).map((n) => n.toLowerCase()),
    ...(raw.identity_from === undefined ? {} : { identityFrom: raw.identity_from.toLowerCase() }),
    ...(raw.cache === undefined ? {} : { cache: toForwardCache(raw.cache) }),
  };
}

function toForwardCache(raw: NonNullable<NonNullable<NonNullable<RawRoute['auth']>['forward']>['cache']>) {
  const fallback = DEFAULTS.auth.forwardCache;
  // The schema's pattern admits header:NAME and cookie:NAME only.
  const parsed = parseHashKey(raw.key);
  if (!('value' in parsed)) throw new Error(`unchecked forward cache key: ${parsed.problem}`);
  const key = parsed.value as ForwardCacheConfig['key'];
  return {
    key,
    ttl: parseDuration(raw.ttl ?? fallback.ttl) ?? 0,
    maxEntries: raw.max_entries ?? fallback.maxEntries,
  };
}

function toCors(raw: NonNullable<RawRoute['cors']>): CorsConfig {
  const expose = [...(raw.expose_headers ?? [])];
  for (const name of GATEWAY_FIELDS)
    if (!expose.some((field) => field.toLowerCase() === name.toLowerCase())) expose.push(name);
  // The loader checked the duration's format.
  const maxAge = raw.max_age === undefined ? undefined : parseDuration(raw.max_age);
  return {
    origins: [...new Set(raw.origins)],
    methods: [...new Set(raw.methods ?? DEFAULTS.cors.methods)],
    headers: [...new Set((raw.headers ?? []).map((name) => name.toLowerCase()))],
    exposeHeaders: expose,
    credentials: raw.credentials ?? DEFAULTS.cors.credentials,
    // Access-Control-Max-Age is whole seconds.
    ...(maxAge === undefined ? {} : { maxAge: Math.floor(maxAge / 1000) }),
  };
}

function toJwt(raw: NonNullable<NonNullable<RawRoute['auth']>['jwt']>, baseDir: string): JwtAuthConfig {
  const ms = (text: string) => parseDuration(text) ?? 0;
  return {
    ...(raw.jwks_url === undefined ? {} : { jwksUrl: raw.jwks_url }),
    ...(raw.keys_file === undefined ? {} : { keysFile: resolve(baseDir, raw.keys_file) }),
    name: raw.jwks_url === undefined ? 'keys_file' : new URL(raw.jwks_url).host,
    ...(raw.issuer === undefined ? {} : { issuer: raw.issuer }),
    ...(raw.audiences === undefined ? {} : { audiences: [...raw.audiences] }),
    algorithms: [...new Set(raw.algorithms ?? DEFAULTS.auth.jwtAlgorithms)],
    clockSkew: ms(raw.clock_skew ?? DEFAULTS.auth.clockSkew),
    requireExp: raw.require_exp ?? DEFAULTS.auth.requireExp,
    types: [...new Set((raw.types ?? DEFAULTS.auth.jwtTypes).map(normalTyp))],
    jwksMinRefresh: ms(raw.jwks_min_refresh ?? DEFAULTS.auth.jwksMinRefresh),
    boundTokens: raw.bound_tokens ?? DEFAULTS.auth.boundTokens,
    ...(raw.cookie === undefined ? {} : { cookie: raw.cookie }),
    claimsToHeaders: claimFields(raw.claims_to_headers),
    identityClaim: raw.identity_claim ?? DEFAULTS.auth.identityClaim,
  };
}

/** `claims_to_headers` as pairs, in the file's order. */
function claimFields(raw: Readonly<Record<string, string>> | undefined): OidcAuthConfig['claimsToHeaders'] {
  return Object.entries(raw ?? {}).map(([claim, header]) => ({ claim, header }));
}

function toOidc(raw: NonNullable<NonNullable<RawRoute['auth']>['oidc']>): OidcAuthConfig {
  const fallback = DEFAULTS.auth.oidc;
  const ms = (text: string) => parseDuration(text) ?? 0;
  return {
    // The issuer as the provider names itself: a trailing slash is part of it (OpenID Discovery §4.3).
    issuer: raw.issuer,
    clientId: raw.client_id,
    ...(raw.client_secret_env === undefined ? {} : { clientSecretEnv: raw.client_secret_env }),
    scopes: [...new Set(['openid', ...(raw.scopes ?? fallback.scopes)])],
    redirectPath: raw.redirect_path ?? fallback.redirectPath,
    logoutPath: raw.logout_path ?? fallback.logoutPath,
    postLogoutRedirect: raw.post_logout_redirect ?? fallback.postLogoutRedirect,
    cookieName: raw.cookie.name ?? fallback.cookieName,
    cookieSecretEnv: raw.cookie.secret_env,
    allowed: Object.entries(raw.allowed ?? {}).map(([claim, values]) => ({ claim, values: [...values] })),
    identityClaim: raw.identity_claim ?? DEFAULTS.auth.identityClaim,
    claimsToHeaders: claimFields(raw.claims_to_headers),
    algorithms: [...new Set(raw.algorithms ?? DEFAULTS.auth.jwtAlgorithms)],
    clockSkew: ms(raw.clock_skew ?? DEFAULTS.auth.clockSkew),
    timeout: ms(raw.timeout ?? fallback.timeout),
    jwksMinRefresh: ms(raw.jwks_min_refresh ?? DEFAULTS.auth.jwksMinRefresh),
    ...(raw.store === undefined
      ? {}
      : {
          store: {
            redis: {
              url: raw.store.redis.url,
              timeout: ms(raw.store.redis.timeout ?? fallback.storeTimeout),
              prefix: raw.store.redis.prefix ?? DEFAULTS.store.prefix,
            },
          },
        }),
  };
}
