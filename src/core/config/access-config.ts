/**
 * Who may use a route, as the gateway runs it: IP lists, CORS, and Basic, JWT and forward
 * authentication (route-config.ts holds the route that carries it).
 */

import type { HashKey } from './routing-values.ts';
import type { UpstreamConfig } from './upstream-config.ts';

/** Who may use a route, asked in the admit phase in this order (proxy/admit/access.ts). */
export interface RouteAccessConfig {
  /** Addresses and CIDR blocks that may use the route; absent: any address not denied. */
  readonly allow?: readonly string[];
  /** Addresses and CIDR blocks refused (403), whatever `allow` says. */
  readonly deny?: readonly string[];
  /** Browsers on other origins: preflights answered by the gateway, CORS fields on every answer. */
  readonly cors?: CorsConfig;
  /** Who the client is: missing or bad credentials get 401, valid ones not allowed 403. */
  readonly auth?: AuthConfig;
}

export interface AuthConfig {
  readonly basic?: BasicAuthConfig;
  readonly jwt?: JwtAuthConfig;
  readonly forward?: ForwardAuthConfig;
  /** A verified client certificate (`listen[].tls.client_certificates`) is required, and may name the user. */
  readonly clientCertificate?: ClientCertificateAuthConfig;
  readonly oidc?: OidcAuthConfig;
  /** Send the client's Authorization field upstream (by default it stops at the gateway). */
  readonly forwardAuthorization: boolean;
  /**
   * The request field the upstream is told the admitted user in (lower-case); the client's own
   * copy of it is always dropped. Absent: the user is logged, not sent.
   */
  readonly identityHeader?: string;
}

/** What a route requires of the client's certificate, once the listener's CA and CRL verified it. */
export interface ClientCertificateAuthConfig {
  /** Subject common names (CN) allowed; empty (with `sans` empty): any verified certificate. */
  readonly subjects: readonly string[];
  /** Subject alternative names allowed, by type (`dns` compared without case). */
  readonly sans: readonly ClientCertificateSan[];
  /** What names the user: the subject's CN, or the first SAN of a type. */
  readonly identity: 'cn' | ClientCertificateSan['type'];
}

export interface ClientCertificateSan {
  readonly type: 'dns' | 'email' | 'uri' | 'ip';
  readonly value: string;
}

export interface JwtAuthConfig {
  /** Where the keys are fetched (cached by Cache-Control, refetched for an unknown kid); or keysFile. */
  readonly jwksUrl?: string;
  /** Absolute path of a JSON Web Key Set file, read when the config is. */
  readonly keysFile?: string;
  /** The auth hop's name in Proxy-Status (next-hop="auth:NAME") and the log: the JWKS URL's host, else "keys_file". */
  readonly name: string;
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  readonly algorithms: readonly string[];
  /** Milliseconds of clock difference tolerated on exp, nbf and iat. */
  readonly clockSkew: number;
  /** A token without an `exp` claim is refused (require_exp, default true). */
  readonly requireExp: boolean;
  /**
   * The header `typ` values a token may have (RFC 8725 §3.11), in their normal form (policy-values.ts's
   * normalTyp: lower case, `application/` written out); a token without one counts as `application/jwt`.
   */
  readonly types: readonly string[];
  /** Milliseconds: the least time between two fetches of the JWKS (an unknown kid asks for one). */
  readonly jwksMinRefresh: number;
  /**
   * RFC 8705 §3 (bound_tokens): `check` a token's `cnf` confirmation against the connection's client
   * certificate when it has one, `require` one, or `ignore` it (jwt-binding.ts).
   */
  readonly boundTokens: 'check' | 'require' | 'ignore';
  /** A cookie the token may come in, when Authorization has no Bearer token. */
  readonly cookie?: string;
  /** Claim → request field the upstream reads it in (the client's own copy of that field removed). */
  readonly claimsToHeaders: readonly { readonly claim: string; readonly header: string }[];
  /** The claim that names the user (the log's `user`, the identity field): `sub` by default. */
  readonly identityClaim: string;
}

/**
 * OpenID Connect sign-in at the edge (proxy/admit/oidc/): the authorization code flow with PKCE,
 * the session in an encrypted cookie. The secrets are named by their variables and read when
 * the route's rules are built.
 */
export interface OidcAuthConfig {
  /** The issuer URL, as the provider's discovery document must name itself. */
  readonly issuer: string;
  readonly clientId: string;
  /** The variable holding the client secret; absent: a public client (PKCE alone). */
  readonly clientSecretEnv?: string;
  /** The scopes asked for, `openid` first. */
  readonly scopes: readonly string[];
  readonly redirectPath: string;
  readonly logoutPath: string;
  /** Where a user goes after the logout (a URL, or a path on the request's host). */
  readonly postLogoutRedirect: string;
  readonly cookieName: string;
  /** The variable holding the secret the session cookie's key is derived from. */
  readonly cookieSecretEnv: string;
  /** Claim → the values allowed (a user must have one of each claim's); empty: anyone signed in. */
  readonly allowed: readonly { readonly claim: string; readonly values: readonly string[] }[];
  /** The claim that names the user (the log's `user`, the identity field). */
  readonly identityClaim: string;
  /** The ID token's claim → request field the upstream reads it in (the client's own copy of that field removed). */
  readonly claimsToHeaders: readonly { readonly claim: string; readonly header: string }[];
  /** The ID token's signature algorithms accepted. */
  readonly algorithms: readonly string[];
  /** Milliseconds of clock difference tolerated on the ID token's exp, nbf and iat. */
  readonly clockSkew: number;
  /** Milliseconds for one call to the provider (discovery, token, keys). */
  readonly timeout: number;
  /** Milliseconds: the least time between two fetches of the provider's keys (a key they lack asks for one), as auth.jwt's. */
  readonly jwksMinRefresh: number;
  /** Sessions kept in Redis, the cookie carrying only their id; absent: the whole session in the cookie. */
  readonly store?: { readonly redis: OidcRedisConfig };
}

/** The Redis an OpenID Connect route keeps its sessions in (`auth.oidc.store.redis`). */
export interface OidcRedisConfig {
  /** redis:// or rediss://, password included (never logged nor shown). */
  readonly url: string;
  /** Longest wait for one call, in ms. */
  readonly timeout: number;
  /** Put before every key, so several fleets can share one Redis. */
  readonly prefix: string;
}

/** An auth service asked about each request: 2xx lets it in, 401 and 403 are passed on. */
export interface ForwardAuthConfig {
  /** The auth hop's name in Proxy-Status (next-hop="auth:NAME") and the log: the URL's host, or the upstream's name. */
  readonly name: string;
  /**
   * The upstream the service is asked through (its pool, timeouts, circuit breaker, retry rule
   * and budget): the one `upstream` names, or with `url` a one-target upstream of the hop's own,
   * named "auth:HOST", on the upstream defaults with `timeout` as its response timeout.
   */
  readonly upstream: UpstreamConfig;
  /** The upstream is one of `upstreams` (shared with routes, its health checks and status its own). */
  readonly shared: boolean;
  /** The path and query asked: the URL's, or `path`. */
  readonly path: string;
  /** Milliseconds for the whole call, every attempt included. */
  readonly timeout: number;
  /** Client request fields sent to the service (lower-case). */
  readonly sendHeaders: readonly string[];
  /** Fields of the service's 2xx answer sent upstream, the client's own copies removed (lower-case). */
  readonly copyHeaders: readonly string[];
  /** The field of the service's 2xx answer that names the user (lower-case); absent: no user told. */
  readonly identityFrom?: string;
  /** Decisions kept for a while by a key of the request's; absent: every request is asked. */
  readonly cache?: ForwardCacheConfig;
}

/** The service's verdicts (a 2xx, its 401 or 403) kept by a header's or a cookie's value, never its failures. */
export interface ForwardCacheConfig {
  readonly key: Exclude<HashKey, { readonly kind: 'client' }>;
  /** Milliseconds a verdict stands. */
  readonly ttl: number;
  /** Verdicts kept at once; the oldest goes first. */
  readonly maxEntries: number;
}

export interface BasicAuthConfig {
  /** Absolute path of the htpasswd file, read when the config is (each reload reads it again). */
  readonly usersFile: string;
  readonly realm: string;
}

export interface CorsConfig {
  /** Lower-case origins: exact ("https://app.example.com"), a subdomain wildcard ("https://*.example.com"), or "*". */
  readonly origins: readonly string[];
  readonly methods: readonly string[];
  /** Request fields a browser may send (lower-case). */
  readonly headers: readonly string[];
  /** Response fields a script may read: the configured ones, then Proxy-Status, X-Request-Id and Retry-After. */
  readonly exposeHeaders: readonly string[];
  readonly credentials: boolean;
  /** Seconds a browser may keep a preflight's answer; absent: its own default. */
  readonly maxAge?: number;
}
