/**
 * What a valid config may still get wrong, told by `candor check` without failing it: each a
 * sentence naming the field.
 */

import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { isGrpcContentType } from '../failure/grpc-answer.ts';
import { templateHasRequestId } from '../failure/page-template.ts';
import { CLIENTS_DOING, type FailureType } from '../failure/taxonomy.ts';
import { spoolShareTooSmall } from '../limits/spool-share.ts';
import { entriesOverlap } from '../net/address-list.ts';
import { hostPort } from '../net/host-port.ts';
import { canonicalHost, canonicalIpLiteral } from '../net/ip-literal.ts';
import { isLoopbackHost } from '../net/loopback-host.ts';
import { plainRemoteHost } from '../net/plain-remote-host.ts';
import { blockOfLooseCidr } from './addresses.ts';
import { badLifetime } from './cache-control-value.ts';
import { canaryHangsPastStep } from './canary-hang-warning.ts';
import { steerableCanaryKey } from './canary-key-warning.ts';
import { certificateDateWarnings } from './certificate-dates.ts';
import { certificateShadowWarnings } from './certificate-shadows.ts';
import { formatPath } from './config-path.ts';
import { problemTemplates } from './env-templates.ts';
import { authFieldsRuledOut, forgeableIdentityHeaders } from './identity-header-warning.ts';
import { plainPrefixedCookie, sharedSessionCookies } from './oidc-cookie-warning.ts';
import { plainHstsListener } from './plain-hsts.ts';
import { routeTimeoutWarnings } from './route-timeout-warnings.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig, RouteConfig, UpstreamConfig } from './types.ts';
import { formatDuration } from './units.ts';

/** A warning and the field it is about, as the loader locates it in the file (load.ts). */
export interface FieldWarning {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** Said instead where the field is one the route took from route_defaults (what to write differs). */
  readonly fromDefault?: string;
}

/** Each warning as one line, "field: message" (as `candor check` tells it after the file, line and column). */
export function configWarnings(config: GatewayConfig): string[] {
  return fieldWarnings(config).map(({ path, message }) => `${formatPath(path)}: ${message}`);
}

export function fieldWarnings(config: GatewayConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [
    ...pageWarnings(config),
    ...trustWarnings(config),
    ...acmeWarnings(config),
    ...certificateShadowWarnings(config),
    ...certificateDateWarnings(config),
    ...Object.entries(config.upstreams).flatMap(([name, upstream]) =>
      upstreamWarnings(config, name, upstream),
    ),
    ...config.routes.flatMap((route, index) => routeWarnings(config, route, index)),
    ...forgeableIdentityHeaders(config.routes),
    ...authFieldsRuledOut(config.routes),
    ...routeTimeoutWarnings(config),
    ...sharedSessionCookies(config.routes),
    ...spoolWarnings(config),
    ...adminWarnings(config),
    ...perClientConnectionWarnings(config),
  ];
  // A warning quotes the config as a problem does: a value the environment gave as `${NAME}`.
  const templates = problemTemplates(config.fromEnvironment ?? []);
  return warnings.map(({ path, message, fromDefault }) => ({
    path,
    message: templates(message),
    ...(fromDefault === undefined ? {} : { fromDefault: templates(fromDefault) }),
  }));
}

/** An HTML error page with nowhere to show the request id. */
function pageWarnings(config: GatewayConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  const { html } = config.errors.pages;
  if (html !== undefined && !templateHasRequestId(html))
    warnings.push({
      path: ['errors', 'pages', 'html'],
      message: `${JSON.stringify(config.errors.pageFiles.html)} has no {{request_id}}: a client sees no id to quote, and its report cannot be found in the log (the X-Request-Id header still carries it)`,
    });
  return warnings;
}

/**
 * An admin listener beyond loopback: never a default (admin.listen's is 127.0.0.1), so what was
 * written; `serve` warns of it at start too, and `candor check` says it before it is deployed.
 */
function adminWarnings(config: GatewayConfig): FieldWarning[] {
  const { admin } = config;
  if (admin === undefined || isLoopbackHost(admin.host)) return [];
  return [
    {
      path: ['admin', 'listen'],
      message: `${admin.address} is beyond loopback: whoever reaches it with the token controls the gateway (reloads, drains, purges, canaries); keep it on 127.0.0.1, or where only operators can reach it`,
    },
  ];
}

/** trust_forwarded_from entries that trust too much, or more than they read as. */
function trustWarnings(config: GatewayConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  for (const [index, entry] of config.trustForwardedFrom.entries())
    if (/\/0+$/.test(entry))
      warnings.push({
        path: ['trust_forwarded_from', index],
        message: `${entry} trusts every client as a proxy: any client then writes the X-Forwarded-For that allow/deny, rate_limit and hash_key judge it by, its own X-Request-Id, and the X-Forwarded-* and X-Real-IP the upstream reads; list only the proxies in front of the gateway`,
      });
    else warnings.push(...looseCidr(['trust_forwarded_from', index], entry));
  warnings.push(...trustedBalancers(config));
  return warnings;
}

/** ACME challenges that cannot be answered, or a dns01 section no order uses. */
function acmeWarnings(config: GatewayConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  const { acme } = config;
  const orders = config.listen.some((listener) => listener.tls?.acme !== undefined);
  // Only HTTP-01, which the CA asks on port 80 of a plain listener: with none, every order fails.
  if (
    orders &&
    acme !== undefined &&
    !acme.challenges.includes('tls-alpn-01') &&
    !acme.challenges.includes('dns-01') &&
    config.listen.every((listener) => listener.tls !== undefined)
  )
    warnings.push({
      path: ['acme', 'challenges'],
      message:
        "only http-01, and no listener is plain: the CA's HTTP-01 validation (port 80) cannot reach this gateway, so every order fails; add a plain listener on port 80, or offer tls-alpn-01",
    });
  // acme.dns01 written for nothing: the challenges the orders use leave dns-01 out.
  if (acme?.dns01 !== undefined && !acme.challenges.includes('dns-01'))
    warnings.push({
      path: ['acme', 'dns01'],
      message:
        'acme.challenges leaves dns-01 out: no order uses this section (nor its TSIG key); add dns-01 to acme.challenges, or remove dns01',
    });
  return warnings;
}

/** An upstream that loops back to the gateway, or whose hold and retry settings can never act. */
function upstreamWarnings(config: GatewayConfig, name: string, upstream: UpstreamConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  for (const [index, target] of upstream.targets.entries()) {
    const unspecified = unspecifiedTarget(target);
    if (unspecified !== undefined)
      warnings.push({ path: ['upstreams', name, 'targets', index, 'url'], message: unspecified });
    if (gatewayListener(config, target.hostname, target.port))
      warnings.push({
        path: ['upstreams', name, 'targets', index, 'url'],
        message: `${authority(target)} ${LOOP}`,
      });
  }
  // A held request's wait counts against the total timeout (request-hold.ts: deadlinePassed).
  const { hold, timeouts } = upstream;
  if (hold !== undefined && hold.timeout >= timeouts.total)
    warnings.push({
      path: ['upstreams', name, 'hold', 'timeout'],
      message: `${formatDuration(hold.timeout)} is not below timeouts.total (${formatDuration(timeouts.total)}): a held request is answered 503 when the total timeout passes, so it never waits the hold's time; raise timeouts.total or lower hold.timeout`,
    });
  // Each attempt waits for its head the shorter of the two (upstream.ts: the pool's head timeout).
  const { perTryTimeout } = upstream.retries;
  if (perTryTimeout > timeouts.response)
    warnings.push({
      path: ['upstreams', name, 'retries', 'per_try_timeout'],
      message: `${formatDuration(perTryTimeout)} is above timeouts.response (${formatDuration(timeouts.response)}): each attempt waits for its response head at most timeouts.response, so the per-try timeout never passes; raise timeouts.response or lower per_try_timeout`,
    });
  const unusedTls = tlsWithoutHttps(upstream);
  if (unusedTls !== undefined)
    warnings.push({
      path: ['upstreams', name, 'tls'],
      message: `${unusedTls} set, but no target is https://: every request to this upstream goes in plain HTTP and these settings are never used; write https:// in the targets' URLs, or remove tls`,
    });
  const inert = upstream.retries.on.filter((type) => neverRetried(type as FailureType));
  if (inert.length > 0)
    warnings.push({
      path: ['upstreams', name, 'retries', 'on'],
      message: `${inert.join(', ')} never lead to a retry: they come after the response head went to the client, or only while a streamed request body goes out (it cannot be sent again), or they are the client's own doing (its deadline spent, its limit); the list is valid, they do nothing`,
    });
  return warnings;
}

/**
 * The `tls` fields an upstream writes while none of its targets (nor its discovery) is https: an
 * `http://` typed for `https://` sends every request in plain HTTP, a client certificate meant
 * for mTLS never shown, and nothing said it (nginx's proxy_ssl_* are as silent); undefined when
 * none is written or a target uses them.
 */
function tlsWithoutHttps(upstream: UpstreamConfig): string | undefined {
  const { tls } = upstream;
  const written = [
    tls.ca !== undefined && 'ca',
    tls.crl !== undefined && 'crl',
    tls.servername !== undefined && 'servername',
    tls.insecureSkipVerify && 'insecure_skip_verify',
    tls.cert !== undefined && 'cert',
    tls.key !== undefined && 'key',
  ].filter((field) => field !== false);
  if (written.length === 0) return undefined;
  const https =
    upstream.discovery === undefined
      ? upstream.targets.some((target) => target.protocol === 'https:')
      : upstream.discovery.scheme === 'https';
  return https ? undefined : written.join(', ');
}

/** The fields whose lifetimes every cache reads in seconds (RFC 9111 §5.2, RFC 9213's CDN-Cache-Control). */
const CACHE_FIELDS = new Set(['cache-control', 'cdn-cache-control']);

/**
 * A response_headers rule whose Cache-Control lifetime is no number of seconds (`max-age=30d`, an
 * nginx user's `expires 30d`): sent as written, and read by every cache as no lifetime. A value
 * with a template variable is the request's, not the config's, to judge.
 */
function lifetimeWarnings(route: RouteConfig, index: number): FieldWarning[] {
  const rules = route.responseHeaders;
  if (rules === undefined) return [];
  const warnings: FieldWarning[] = [];
  for (const rule of [...rules.set, ...rules.add]) {
    if (!CACHE_FIELDS.has(rule.lower) || rule.value.some((part) => typeof part !== 'string')) continue;
    const value = rule.value.join('');
    const bad = badLifetime(value);
    if (bad !== undefined)
      warnings.push({
        path: ['routes', index, 'response_headers'],
        message: `${rule.name} ${JSON.stringify(value)} has ${bad}, which every cache reads as no lifetime (RFC 9111 §1.2.2, §4.2.1): each answer is stale at once, never kept; write it in seconds (max-age=2592000 for 30 days)`,
      });
  }
  return warnings;
}

/** A route's access, compression, header and cache settings that do not do what they read as. */
function routeWarnings(config: GatewayConfig, route: RouteConfig, index: number): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  const steerable = steerableCanaryKey(route, index);
  if (steerable !== undefined) warnings.push(steerable);
  const hangs = canaryHangsPastStep(config, route, index);
  if (hangs !== undefined) warnings.push(hangs);
  for (const list of ['allow', 'deny'] as const)
    for (const [at, entry] of (route.access?.[list] ?? []).entries())
      warnings.push(...looseCidr(['routes', index, list, at], entry));
  const pattern = patternSegment(route.path);
  if (pattern !== undefined)
    warnings.push({
      path: ['routes', index, 'match', 'path'],
      message: `${JSON.stringify(route.path)}: match.path is a prefix taken as written, so "${pattern}" is those characters, not a pattern, and the route takes none of the paths it meant; write the fixed part, ${JSON.stringify(fixedPart(route.path, pattern))}, which takes every path under it`,
    });
  const forward = route.access?.auth?.forward;
  if (forward !== undefined && !forward.shared)
    for (const target of forward.upstream.targets)
      if (gatewayListener(config, target.hostname, target.port))
        warnings.push({
          path: ['routes', index, 'auth', 'forward', 'url'],
          message: `${authority(target)} ${LOOP}`,
        });
  // RFC 8725 §3.9: a token one service's audience may not be taken by another of the issuer's.
  if (route.access?.auth?.jwt !== undefined && route.access.auth.jwt.audiences === undefined)
    warnings.push({
      path: ['routes', index, 'auth', 'jwt', 'audiences'],
      message: `none, so a token the issuer made for any of its services (another API, another tenant's app) is accepted here as well as one made for this one; list the audiences (aud) this route's API answers to`,
    });
  const jwks = plainRemoteHost(route.access?.auth?.jwt?.jwksUrl);
  if (jwks !== undefined)
    warnings.push({
      path: ['routes', index, 'auth', 'jwt', 'jwks_url'],
      message: `plain http to ${jwks}: the keys that decide who gets in travel unauthenticated, and anyone on the way can serve keys of their own and sign any token this route accepts; fetch them over https (plain http only to a loopback address)`,
    });
  const cors = route.access?.cors;
  // The Fetch standard reads "*" in Access-Control-Expose-Headers as any field only for a call
  // without credentials: one with them (cookies, Authorization) reads a field named "*".
  if (cors?.credentials === true && cors.exposeHeaders.includes('*'))
    warnings.push({
      path: ['routes', index, 'cors', 'expose_headers'],
      message: `"*" with credentials: true: a browser reads it as every field only for a call without credentials; a script whose call sends cookies or Authorization reads a field named "*", so none of the answer's own fields; list the fields it may read`,
    });
  const unsendable = cors === undefined ? undefined : authorizationNeverSent(route);
  if (unsendable !== undefined)
    warnings.push({ path: ['routes', index, 'cors', 'headers'], message: unsendable });
  // A gRPC answer is never given a content coding (content-coding.ts), whatever types says.
  const grpcTypes = route.compression?.types.filter((type) => isGrpcContentType(type)) ?? [];
  if (grpcTypes.length > 0)
    warnings.push({
      path: ['routes', index, 'compression', 'types'],
      message: `${grpcTypes.join(', ')}: a gRPC answer is never compressed (gRPC compresses its messages itself, grpc-encoding, and its client reads no Content-Encoding), so this entry does nothing; gRPC-Web (application/grpc-web…), which a browser decodes, is compressed by types`,
    });
  const hsts = plainHstsListener(config, route);
  if (hsts !== undefined)
    warnings.push({
      path: ['routes', index, 'response_headers'],
      message: `Strict-Transport-Security goes out on answers over plain http too (listener '${hsts}'): RFC 6797 §7.2 says a server must not send it there, and a browser ignores it; bind the route to the TLS listener (match.scheme: https, or match.listener), or, with a TLS terminator in front of this listener, say so (trust_forwarded_from, or the listener's proxy_protocol)`,
    });
  warnings.push(...lifetimeWarnings(route, index));
  const prefixed = plainPrefixedCookie(config, route, index);
  if (prefixed !== undefined) warnings.push(prefixed);
  const methods = route.conditions?.methods;
  // The cache stores and serves the answers to GET and HEAD only (fwd=method for the rest).
  if (route.cache !== undefined && methods !== undefined && !methods.some((m) => m === 'GET' || m === 'HEAD'))
    warnings.push({
      path: ['routes', index, 'cache'],
      message: `the route matches only ${methods.join(', ')}, and only the answers to GET and HEAD are stored: this cache never stores or serves an answer; match GET too, or remove the cache`,
      // Taken from route_defaults, there is no cache on the route to remove: it says how to take none.
      fromDefault: `the route matches only ${methods.join(', ')}, and only the answers to GET and HEAD are stored: this cache never stores or serves an answer; match GET too, or write cache: false on the route to take no route_defaults.cache`,
    });
  return warnings;
}

/**
 * A CORS route whose auth reads the client's Authorization (Basic, a JWT bearer token) where a
 * browser's cross-origin call can never carry it: the field is not safelisted, so the browser asks
 * first, and the gateway refuses a preflight for a field cors.headers does not list (the Fetch
 * standard: a "*" there echoes the fields asked, Authorization too). A browser's own credentials
 * (a JWT's cookie, the Basic login it holds) go with the call only under cors.credentials.
 */
function authorizationNeverSent(route: RouteConfig): string | undefined {
  const cors = route.access?.cors;
  const auth = route.access?.auth;
  if (cors === undefined || auth === undefined) return undefined;
  if (cors.headers.includes('authorization') || cors.headers.includes('*')) return undefined;
  const why = `a browser sends a cross-origin Authorization only after a preflight that allows it, so every call with`;
  if (auth.jwt !== undefined && !(auth.jwt.cookie !== undefined && cors.credentials))
    return `Authorization is not listed, and the route's auth.jwt takes its token from it: ${why} a token is refused at its preflight (403) and the script reads a CORS error; list Authorization in cors.headers${auth.jwt.cookie === undefined ? '' : ', or set cors.credentials for the browser to send its cookie'}`;
  if (auth.basic !== undefined && !cors.credentials)
    return `Authorization is not listed, and the route's auth.basic takes its credentials from it: ${why} credentials is refused at its preflight (403) and the script reads a CORS error; list Authorization in cors.headers, or set cors.credentials to let the browser send the credentials it holds`;
  return undefined;
}

/** The connections a browser opens to one host at once over HTTP/1.1 (Chromium, Firefox, Safari). */
const BROWSER_CONNECTIONS = 6;

/**
 * A per-client connection bound below a browser's own: over HTTP/1.1 a page's images, scripts
 * and styles load on up to six connections at once, and those past the bound are refused 429
 * (in Chromium, with 2, ten of a page's twelve images). HTTP/2 over TLS takes one connection.
 */
function perClientConnectionWarnings(config: GatewayConfig): FieldWarning[] {
  const connections = config.limits.perClient?.connections;
  if (connections === undefined || connections >= BROWSER_CONNECTIONS) return [];
  const http1 = config.listen.find((listener) => !(listener.tls !== undefined && listener.http2));
  if (http1 === undefined) return [];
  return [
    {
      path: ['limits', 'per_client', 'connections'],
      message: `${connections}: a browser opens up to six connections to a host over HTTP/1.1 (Chromium, Firefox and Safari alike, listener '${http1.name}'), so a page's own parallel loads past ${connections} (its images, scripts, styles) are refused 429; allow ${BROWSER_CONNECTIONS} or more, or serve browsers over HTTP/2 (http2: true with tls), which takes one connection`,
    },
  ];
}

/** A spool total too small to share among serve's workers. */
function spoolWarnings(config: GatewayConfig): FieldWarning[] {
  // The worker count is serve's (--workers), not the file's: judged at serve's default here (one
  // per core), and again at serve's start with the count it runs (primary.ts).
  const workers = availableParallelism();
  const spool = spoolShareTooSmall(config.limits.spool.maxTotal, workers);
  if (spool === undefined) return [];
  return [
    {
      path: ['limits', 'spool', 'max_total'],
      message:
        workers === 1 ? spool : `${spool} (serve's default here: one worker per core; --workers sets it)`,
    },
  ];
}

/**
 * A balancer in a listener's proxy_protocol.from that trust_forwarded_from lists too: after its
 * header names no client (proxy-gate.ts), it is the client, a trusted proxy whose headers are kept.
 */
function trustedBalancers(config: GatewayConfig): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  for (const [index, listener] of config.listen.entries())
    for (const [at, entry] of (listener.proxyProtocol?.from ?? []).entries()) {
      const trusted = config.trustForwardedFrom.find((other) => entriesOverlap(entry, other));
      if (trusted !== undefined)
        warnings.push({
          path: ['listen', index, 'proxy_protocol', 'from', at],
          message: `${entry} is in trust_forwarded_from too (${trusted}): a connection whose PROXY header names no client (v2 LOCAL, v1 UNKNOWN, a v2 UNSPEC or UNIX family) has the balancer itself as its client, and its X-Forwarded-For and Forwarded are then believed, so a client the balancer relays that way (UNKNOWN) writes the address that allow/deny, rate_limit and hash_key judge it by and the upstream reads; list in trust_forwarded_from only the proxies whose own headers are meant, by their exact addresses`,
        });
    }
  return warnings;
}

/** An address list's entry written with bits past its prefix: it stands for its whole block. */
function looseCidr(path: readonly PathSegment[], entry: string): FieldWarning[] {
  const block = blockOfLooseCidr(entry);
  if (block === undefined) return [];
  const [address, prefix] = entry.split('/');
  return [
    {
      path,
      message: `${entry} has bits set past its /${prefix}: it stands for the whole block ${block}, not the address ${address}; write ${block}, or ${address} alone`,
    },
  ];
}

/** The gateway refuses a request that already carries its name in Via (accept-request.ts). */
const LOOP =
  "is this gateway's own listener: a request sent there comes back with this gateway's name in Via and is refused as a loop (502 proxy_loop_detected), so it can never be answered; point it at the service itself";

/**
 * The listener hosts a request to each loopback name reaches: IPv4's loopback is not IPv6's
 * (a listener on 127.0.0.1 is not reached at ::1), the IPv4 wildcard takes no IPv6, the IPv6
 * one (dual-stack) takes both, and localhost may resolve to either.
 */
const REACHED_FROM: Readonly<Record<string, ReadonlySet<string>>> = {
  '127.0.0.1': new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::', '']),
  '::1': new Set(['::1', 'localhost', '::', '']),
  localhost: new Set(['127.0.0.1', '::1', 'localhost', '0.0.0.0', '::', '']),
  // Linux connects an unspecified address to its family's loopback (0.0.0.0 to 127.0.0.1, :: to ::1).
  '0.0.0.0': new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::', '']),
  '::': new Set(['::1', 'localhost', '::', '']),
};

/**
 * A target at an unspecified address (0.0.0.0, ::): an address to listen on, no host's. Linux
 * connects it to its family's loopback, other systems refuse it, and discovery refuses it in an
 * answer (refused-targets.ts): a listener's address copied into a target's URL.
 */
function unspecifiedTarget(target: { hostname: string; port: number }): string | undefined {
  const host = canonicalAddress(target.hostname);
  if (host !== '0.0.0.0' && host !== '::') return undefined;
  return `${authority(target)} is an unspecified address, one to listen on, not any host's: Linux connects it to this machine's ${host === '::' ? '::1' : '127.0.0.1'}, other systems refuse it, and discovery refuses it in an answer; write the address of the service (${host === '::' ? '[::1]' : '127.0.0.1'} for this machine)`;
}

/** host:port as a URL writes it. */
const authority = (target: { hostname: string; port: number }) => hostPort(target.hostname, target.port);

/** The wildcard listeners another address of IPv4's loopback (127.0.0.2) reaches: its own aside. */
const WILDCARDS_V4: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/** Whether host:port reaches one of the gateway's listeners: the same address, or loopback to one it reaches. */
function gatewayListener(config: GatewayConfig, hostname: string, port: number): boolean {
  const host = canonicalAddress(hostname);
  const reached =
    REACHED_FROM[host] ?? (isIP(host) === 4 && host.startsWith('127.') ? WILDCARDS_V4 : undefined);
  return config.listen.some((listener) => {
    if (listener.port !== port) return false;
    const bound = canonicalAddress(listener.host);
    return bound === host || reached?.has(bound) === true;
  });
}

/**
 * An address as one spelling: an IPv6 one in its RFC 5952 form (`0::1` is `::1`), one mapping an
 * IPv4 address (`::ffff:127.0.0.1`, which a URL writes `::ffff:7f00:1`) as that IPv4 address; a
 * name in lower case. A listener and a target that spell one address apart are one loop.
 */
function canonicalAddress(host: string): string {
  const lower = host.toLowerCase();
  if (isIP(lower) !== 6) return canonicalHost(lower);
  const canonical = canonicalIpLiteral(`[${lower}]`)?.slice(1, -1) ?? lower;
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped === null) return canonical;
  const high = Number.parseInt(mapped[1], 16);
  const low = Number.parseInt(mapped[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Failures that exist only once the response head went downstream: the retry rule says `after_head`. */
const AFTER_HEAD_ONLY: ReadonlySet<FailureType> = new Set<FailureType>([
  'http_response_incomplete',
  'connection_read_timeout',
  'http_response_trailer_section_size',
]);

/**
 * Failures that exist only while a request body streams from the client to the upstream (the
 * body pump's send clock): a body taken from the client cannot be sent again, so the retry rule
 * says `body_not_replayable` (or `not_idempotent` first).
 */
const STREAMED_BODY_ONLY: ReadonlySet<FailureType> = new Set<FailureType>(['connection_write_timeout']);

/**
 * A failure type the retry rule (decide/retry-policy.ts) turns down whatever the list says:
 * one that comes only after the head went downstream, or only while a streamed body goes out,
 * or the client's own (its deadline has passed, or its limit refused an answer that came whole).
 */
function neverRetried(type: FailureType): boolean {
  return AFTER_HEAD_ONLY.has(type) || STREAMED_BODY_ONLY.has(type) || CLIENTS_DOING.has(type);
}

/**
 * A segment of a route's path written as another router's pattern: a glob (`*`, `**`, `v1*`), a
 * named parameter (`:id`, Express's and Gin's), a template (`{id}`, OpenAPI's and Spring's, `<id>`,
 * Flask's). `match.path` is a prefix taken as written, so the route matches none of the paths meant.
 */
function patternSegment(path: string): string | undefined {
  return path
    .split('/')
    .find(
      (segment) =>
        segment.includes('*') || /^:[A-Za-z_]\w*$/.test(segment) || /^(\{.*\}|<.*>)$/.test(segment),
    );
}

/** The path up to the segment that is a pattern, ending in "/". */
function fixedPart(path: string, segment: string): string {
  return path.slice(0, path.indexOf(`/${segment}`) + 1);
}
