/** The runtime form of a route's access control (schema-access.ts): absent when it has none. */

import { resolve } from 'node:path';
import { DEFAULTS } from './defaults.ts';
import type { RawConfig } from './schema.ts';
import type { AuthConfig, CorsConfig, JwtAuthConfig, RouteAccessConfig } from './types.ts';
import { parseDuration } from './units.ts';

type RawRoute = RawConfig['routes'][number];

/** What a browser's script may always read of a gateway's answer: what it needs to tell which hop failed. */
const GATEWAY_FIELDS = ['Proxy-Status', 'X-Request-Id', 'Retry-After'];

export function toAccess(raw: RawRoute, baseDir: string): RouteAccessConfig | undefined {
  if (raw.allow === undefined && raw.deny === undefined && raw.cors === undefined && raw.auth === undefined)
    return undefined;
  return {
    ...(raw.allow === undefined ? {} : { allow: [...raw.allow] }),
    ...(raw.deny === undefined ? {} : { deny: [...raw.deny] }),
    ...(raw.cors === undefined ? {} : { cors: toCors(raw.cors) }),
    ...(raw.auth === undefined ? {} : { auth: toAuth(raw.auth, baseDir) }),
  };
}

function toAuth(raw: NonNullable<RawRoute['auth']>, baseDir: string): AuthConfig {
  const { basic, jwt, forward } = raw;
  return {
    ...(forward === undefined
      ? {}
      : {
          forward: {
            url: forward.url,
            name: new URL(forward.url).host,
            timeout: parseDuration(forward.timeout ?? DEFAULTS.auth.forwardTimeout) ?? 0,
            sendHeaders: (forward.send_headers ?? DEFAULTS.auth.forwardSendHeaders).map((n) =>
              n.toLowerCase(),
            ),
            copyHeaders: (forward.copy_headers ?? []).map((n) => n.toLowerCase()),
          },
        }),
    ...(jwt === undefined ? {} : { jwt: toJwt(jwt, baseDir) }),
    ...(basic === undefined
      ? {}
      : {
          basic: {
            usersFile: resolve(baseDir, basic.users_file),
            realm: basic.realm ?? DEFAULTS.auth.realm,
          },
        }),
    forwardAuthorization: raw.forward_authorization ?? DEFAULTS.auth.forwardAuthorization,
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
    jwksMinRefresh: ms(raw.jwks_min_refresh ?? DEFAULTS.auth.jwksMinRefresh),
    ...(raw.cookie === undefined ? {} : { cookie: raw.cookie }),
    claimsToHeaders: Object.entries(raw.claims_to_headers ?? {}).map(([claim, header]) => ({
      claim,
      header,
    })),
  };
}
