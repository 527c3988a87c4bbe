/**
 * Turns a document that passed every check into the runtime config: camelCase, milliseconds,
 * bytes, parsed addresses, absolute paths, and every default filled in from defaults.ts.
 */

import { resolve } from 'node:path';
import { accepted } from './accepted.ts';
import { parseListenAddress, parseOtlpEndpoint, parseRouteHost, parseRoutePath } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import { type AuthUpstreams, toAccess } from './normalize-access.ts';
import { toAcme } from './normalize-acme.ts';
import { toStore } from './normalize-fleet.ts';
import { durationMs, sizeBytes, toLimits } from './normalize-limits.ts';
import { toPlugins } from './normalize-plugins.ts';
import { toRouteTimeouts } from './normalize-route-timeouts.ts';
import { toConditions, toHeaderRules, toRedirect, toRewrite } from './normalize-routing.ts';
import { toMaintenance, toUpstream } from './normalize-upstream.ts';
import { parseRateKey } from './policy-values.ts';
import { renamedDefaults } from './route-names.ts';
import { parseHashKey } from './routing-values.ts';
import type { RawConfig } from './schema.ts';
import type {
  AdminConfig,
  CacheConfig,
  CanaryConfig,
  CompressionConfig,
  GatewayConfig,
  ListenerConfig,
  RateLimitConfig,
  RouteConfig,
  StaticConfig,
  UpstreamConfig,
} from './types.ts';
import { fileText } from './utf8.ts';

type RawListener = RawConfig['listen'][number];
type RawRoute = RawConfig['routes'][number];

export function toGatewayConfig(raw: RawConfig, source: string, baseDir: string): GatewayConfig {
  const destination = raw.log?.destination ?? DEFAULTS.log.destination;
  const upstreams = Object.fromEntries(
    Object.entries(raw.upstreams ?? {}).map(([name, upstream]) => [
      name,
      toUpstream(name, upstream, baseDir),
    ]),
  );
  const authUpstreams = toAuthUpstreams(upstreams, baseDir);
  // Unnamed routes that would share a part kept by name with another: their own names (route-names.ts).
  const renamed = renamedDefaults(raw.routes);
  return {
    name: raw.name ?? DEFAULTS.name,
    source,
    listen: raw.listen.map((listener) => toListener(listener, baseDir)),
    routes: raw.routes.map((route, index) =>
      toRoute(
        route,
        index,
        baseDir,
        authUpstreams,
        renamed.get(index),
        toRouteTimeouts(route.timeouts, upstreams, raw.upstreams),
      ),
    ),
    upstreams,
    ...(raw.plugins === undefined ? {} : { plugins: toPlugins(raw.plugins, baseDir) }),
    ...(raw.store === undefined ? {} : { store: toStore(raw.store) }),
    // A listener that orders names without `acme:` orders them with its defaults (Let's Encrypt).
    ...(raw.acme === undefined && !raw.listen.some((listener) => listener.tls?.acme)
      ? {}
      : { acme: toAcme(raw.acme ?? {}, baseDir) }),
    stateDir: raw.state_dir === undefined ? DEFAULTS.stateDir() : resolve(baseDir, raw.state_dir),
    errors: toErrors(raw.errors, baseDir),
    paths: {
      normalize: raw.paths?.normalize ?? DEFAULTS.paths.normalize,
      mergeSlashes: raw.paths?.merge_slashes ?? DEFAULTS.paths.mergeSlashes,
    },
    trustForwardedFrom: [...(raw.trust_forwarded_from ?? DEFAULTS.trustForwardedFrom)],
    limits: toLimits(raw.limits, baseDir),
    log: {
      level: raw.log?.level ?? DEFAULTS.log.level,
      destination:
        destination === 'stdout' || destination === 'stderr' ? destination : resolve(baseDir, destination),
    },
    ...(raw.metrics === undefined
      ? {}
      : {
          metrics: {
            address: raw.metrics.listen,
            ...accepted(parseListenAddress(raw.metrics.listen)),
            allowedHosts: (raw.metrics.allowed_hosts ?? []).map((name) => accepted(parseRouteHost(name))),
          },
        }),
    drain: {
      delay: durationMs(raw.drain?.delay, DEFAULTS.drain.delay),
      timeout: durationMs(raw.drain?.timeout, DEFAULTS.drain.timeout),
    },
    ...(raw.admin === undefined ? {} : { admin: toAdmin(raw.admin, baseDir) }),
    ...(raw.tracing === undefined
      ? {}
      : {
          tracing: {
            otlpEndpoint: accepted(parseOtlpEndpoint(raw.tracing.otlp_endpoint)),
            sampleRatio: raw.tracing.sample_ratio ?? DEFAULTS.tracing.sampleRatio,
            serviceName: raw.tracing.service_name ?? raw.name ?? DEFAULTS.name,
          },
        }),
  };
}

/** The upstreams an auth hop may call: one of the config's by name, or its own origin. */
function toAuthUpstreams(
  upstreams: Readonly<Record<string, UpstreamConfig>>,
  baseDir: string,
): AuthUpstreams {
  return {
    // The checks made sure the name is one of upstreams.
    named: (name) => upstreams[name] as UpstreamConfig,
    // The upstream defaults, the hop's timeout as its wait for an answer (each try's and all tries').
    own: (name, origin, timeout) =>
      toUpstream(
        name,
        { targets: [{ url: origin }], timeouts: { response: `${timeout}ms`, total: `${timeout}ms` } },
        baseDir,
      ),
  };
}

/** The error settings; the page files are read here (file-checks.ts made sure they can be). */
function toErrors(raw: RawConfig['errors'], baseDir: string): GatewayConfig['errors'] {
  const html = raw?.pages?.html === undefined ? undefined : resolve(baseDir, raw.pages.html);
  const json = raw?.pages?.json === undefined ? undefined : resolve(baseDir, raw.pages.json);
  return {
    exposeUpstreamAddress: raw?.expose_upstream_address ?? DEFAULTS.errors.exposeUpstreamAddress,
    detail: raw?.detail ?? DEFAULTS.errors.detail,
    pages: {
      ...(html === undefined ? {} : { html: fileText(html) }),
      ...(json === undefined ? {} : { json: JSON.parse(fileText(json)) as Record<string, unknown> }),
    },
    pageFiles: { ...(html === undefined ? {} : { html }), ...(json === undefined ? {} : { json }) },
  };
}

function toAdmin(raw: NonNullable<RawConfig['admin']>, baseDir: string): AdminConfig {
  const address = raw.listen ?? DEFAULTS.admin.listen;
  const { host, port } = accepted(parseListenAddress(address));
  // admin-checks.ts made sure exactly one of the two is there.
  const token =
    raw.token_file === undefined ? { env: raw.token_env ?? '' } : { file: resolve(baseDir, raw.token_file) };
  const probesPath = raw.probes_path === undefined ? undefined : accepted(parseRoutePath(raw.probes_path));
  const allowedHosts = (raw.allowed_hosts ?? []).map((name) => accepted(parseRouteHost(name)));
  return { address, host, port, token, allowedHosts, ...(probesPath === undefined ? {} : { probesPath }) };
}

function toListener(raw: RawListener, baseDir: string): ListenerConfig {
  const { host, port } = accepted(parseListenAddress(raw.address));
  const listener = {
    name: raw.name ?? raw.address,
    address: raw.address,
    host,
    port,
    ...(raw.max_in_flight === undefined ? {} : { maxInFlight: raw.max_in_flight }),
    maxConnections: raw.max_connections ?? DEFAULTS.listener.maxConnections,
    http2: raw.http2 ?? false,
    clientCertificatesFrom: raw.client_certificates_from ?? DEFAULTS.listener.clientCertificatesFrom,
    ...(raw.proxy_protocol === undefined ? {} : { proxyProtocol: { from: raw.proxy_protocol.from } }),
  };
  if (raw.tls === undefined) return listener;
  const file = (path: string) => resolve(baseDir, path);
  return {
    ...listener,
    tls: {
      ...(raw.tls.cert === undefined ? {} : { cert: file(raw.tls.cert) }),
      ...(raw.tls.key === undefined ? {} : { key: file(raw.tls.key) }),
      certificates: (raw.tls.certificates ?? []).map((pair) => ({
        cert: file(pair.cert),
        key: file(pair.key),
      })),
      minVersion: raw.tls.min_version ?? DEFAULTS.listener.tlsMinVersion,
      allowMisdirected: raw.tls.allow_misdirected ?? DEFAULTS.listener.allowMisdirected,
      ...(raw.tls.client_certificates === undefined
        ? {}
        : {
            clientCertificates: {
              ca: file(raw.tls.client_certificates.ca),
              mode: raw.tls.client_certificates.mode ?? DEFAULTS.listener.clientCertificateMode,
              ...(raw.tls.client_certificates.crl === undefined
                ? {}
                : { crl: file(raw.tls.client_certificates.crl) }),
            },
          }),
      ...(raw.tls.acme === undefined
        ? {}
        : { acme: { names: [...new Set(raw.tls.acme.names.map((name) => name.toLowerCase()))] } }),
    },
  };
}

function toRoute(
  raw: RawRoute,
  index: number,
  baseDir: string,
  authUpstreams: AuthUpstreams,
  renamed: string | undefined,
  /** Its timeouts over each upstream's (normalize-route-timeouts.ts): built with the upstreams. */
  timeouts: RouteConfig['timeouts'],
): RouteConfig {
  const host = raw.match?.host === undefined ? undefined : accepted(parseRouteHost(raw.match.host));
  const path = accepted(parseRoutePath(raw.match?.path ?? DEFAULTS.route.path));
  return {
    index,
    name: raw.name ?? renamed ?? `${host ?? ''}${path}`,
    ...(host === undefined ? {} : { host }),
    path,
    ...(raw.upstream === undefined
      ? raw.split === undefined
        ? {}
        : { upstream: raw.split[0].upstream }
      : { upstream: raw.upstream }),
    ...(raw.split === undefined
      ? {}
      : { split: raw.split.map((s) => ({ upstream: s.upstream, weight: s.weight ?? 1 })) }),
    ...(raw.hash_key === undefined ? {} : { hashKey: accepted(parseHashKey(raw.hash_key)) }),
    ...(raw.canary === undefined ? {} : { canary: toCanary(raw.canary) }),
    stripPrefix: raw.strip_prefix ?? DEFAULTS.route.stripPrefix,
    allowEncodedSlashes: raw.allow_encoded_slashes ?? DEFAULTS.route.allowEncodedSlashes,
    ...optional('conditions', toConditions(raw.match)),
    ...optional('rewrite', toRewrite(raw.rewrite)),
    ...optional('redirect', toRedirect(raw.redirect)),
    ...optional('requestHeaders', toHeaderRules(raw.request_headers)),
    ...optional('responseHeaders', toHeaderRules(raw.response_headers)),
    ...optional('plugins', raw.plugins),
    limits: {
      body: sizeBytes(raw.limits?.body, DEFAULTS.route.limits.body),
      buffer: sizeBytes(raw.limits?.buffer, DEFAULTS.route.limits.buffer),
    },
    requestBuffering: raw.request_buffering ?? DEFAULTS.route.requestBuffering,
    ...(raw.max_in_flight === undefined ? {} : { maxInFlight: raw.max_in_flight }),
    ...(raw.maintenance === undefined ? {} : { maintenance: toMaintenance(raw.maintenance) }),
    ...optional('timeouts', timeouts),
    ...(raw.rate_limit === undefined ? {} : { rateLimit: toRateLimit(raw.rate_limit) }),
    retryIdempotencyKey: raw.retry_idempotency_key ?? DEFAULTS.route.retryIdempotencyKey,
    ...(raw.compression === undefined ? {} : { compression: toCompression(raw.compression) }),
    ...(raw.cache === undefined ? {} : { cache: toCache(raw.cache, baseDir) }),
    ...(raw.static === undefined ? {} : { static: toStatic(raw.static, baseDir) }),
    ...optional('access', toAccess(raw, baseDir, authUpstreams)),
  };
}

function toCanary(raw: NonNullable<RawRoute['canary']>): CanaryConfig {
  const defaults = DEFAULTS.canary;
  const stepInterval = durationMs(raw.step_interval, defaults.stepInterval);
  return {
    upstream: raw.upstream,
    steps: [...(raw.steps ?? defaults.steps)],
    stepInterval,
    checkInterval: durationMs(raw.check_interval, Math.ceil(stepInterval / defaults.looksPerStep)),
    minRequests: raw.min_requests ?? defaults.minRequests,
    maxDuration: durationMs(raw.max_duration, defaults.maxDuration),
    compare: [...(raw.compare ?? defaults.compare)],
    confidence: raw.confidence ?? defaults.confidence,
    latencyMargin: durationMs(raw.latency_margin, defaults.latencyMargin),
    latencyP99Factor: raw.latency_p99_factor ?? defaults.latencyP99Factor,
    baselineMaxFailedPercent: raw.baseline_max_failed_percent ?? defaults.baselineMaxFailedPercent,
    onFailure: raw.on_failure ?? 'rollback',
    onSuccess: raw.on_success ?? 'promote',
  };
}

function toStatic(raw: NonNullable<RawRoute['static']>, baseDir: string): StaticConfig {
  return {
    root: resolve(baseDir, raw.root),
    index: raw.index ?? DEFAULTS.route.staticIndex,
    ...(raw.fallback === undefined ? {} : { fallback: raw.fallback }),
    precompressed: [...(raw.precompressed ?? [])],
    ...(raw.cache_control === undefined ? {} : { cacheControl: raw.cache_control }),
  };
}

function toCompression(raw: NonNullable<RawRoute['compression']>): CompressionConfig {
  const defaults = DEFAULTS.route.compression;
  return {
    encodings: [...(raw.encodings ?? defaults.encodings)],
    minSize: sizeBytes(raw.min_size, defaults.minSize),
    types: (raw.types ?? defaults.types).map((type) => type.toLowerCase()),
    skipCredentialed: (raw.skip_credentialed ?? defaults.skipCredentialed).map((type) => type.toLowerCase()),
  };
}

function toCache(raw: NonNullable<RawRoute['cache']>, baseDir: string): CacheConfig {
  const maxSize = sizeBytes(raw.max_size, DEFAULTS.cache.maxSize);
  return {
    ...(raw.dir === undefined
      ? {}
      : { dir: resolve(baseDir, raw.dir), maxDisk: sizeBytes(raw.max_disk, DEFAULTS.cache.maxDisk) }),
    maxSize,
    // Unwritten, no larger than max_size: a larger answer could never be kept (cache-checks.ts).
    maxEntry: sizeBytes(raw.max_entry, Math.min(DEFAULTS.cache.maxEntry, maxSize)),
    staleIfError: durationMs(raw.stale_if_error, DEFAULTS.cache.staleIfError),
    lockTimeout: durationMs(raw.lock_timeout, DEFAULTS.cache.lockTimeout),
    lifetimes: Object.fromEntries(
      Object.entries(raw.lifetimes ?? {}).map(([status, lifetime]) => [
        Number(status),
        durationMs(lifetime, 0) / 1000,
      ]),
    ),
    overrideOrigin: raw.override_origin ?? false,
    workersShare: raw.workers_share ?? true,
    staleWhileRevalidate: durationMs(raw.stale_while_revalidate, 0) / 1000,
  };
}

/** `{ key: value }`, or nothing when the value is absent (the frozen config has no undefined members). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function toRateLimit(raw: NonNullable<RawRoute['rate_limit']>): RateLimitConfig {
  return {
    rate: raw.rate,
    burst: raw.burst ?? Math.max(1, Math.ceil(raw.rate)),
    key: accepted(parseRateKey(raw.key ?? DEFAULTS.rateLimit.key)),
    ipv6Prefix: raw.ipv6_prefix ?? DEFAULTS.rateLimit.ipv6Prefix,
  };
}
