/**
 * The validated, normalised, frozen configuration the gateway runs on.
 *
 * The YAML file uses snake_case and human units ("250ms", "8KiB"); this is what the
 * loader turns it into: camelCase, durations in milliseconds, sizes in bytes, URLs parsed.
 * Every default lives in `defaults.ts`; nothing downstream invents one.
 *
 * The document's top and its small sections are here; its large ones each have a module
 * (listener-config.ts, route-config.ts, access-config.ts, upstream-config.ts,
 * limits-config.ts), whose names this one exports as well.
 */

import type { PathOptions } from '../uri-path.ts';
import type { FromEnvironment } from './env.ts';
import type { DownstreamLimits } from './limits-config.ts';
import type { AcmeConfig, ListenerConfig } from './listener-config.ts';
import type { RouteConfig } from './route-config.ts';
import type { UpstreamConfig } from './upstream-config.ts';

export type {
  AuthConfig,
  BasicAuthConfig,
  ClientCertificateAuthConfig,
  ClientCertificateSan,
  CorsConfig,
  ForwardAuthConfig,
  ForwardCacheConfig,
  JwtAuthConfig,
  OidcAuthConfig,
  RouteAccessConfig,
} from './access-config.ts';
export type { DownstreamLimits, Http2Limits, PerClientLimits, SpoolLimits } from './limits-config.ts';
export type {
  AcmeChallengeType,
  AcmeConfig,
  ClientCertificatesConfig,
  Dns01Config,
  ListenerConfig,
  ListenerTlsConfig,
  TsigAlgorithm,
} from './listener-config.ts';
export type {
  CacheConfig,
  CanaryConfig,
  CanaryMetric,
  CompressionConfig,
  ContentCoding,
  FieldTest,
  HeaderRule,
  HeaderRules,
  RateLimitConfig,
  RedirectConfig,
  RewriteConfig,
  RouteConditions,
  RouteConfig,
  SplitSide,
  StaticConfig,
  ValueTest,
} from './route-config.ts';
export type { HashKey, TemplatePart } from './routing-values.ts';
export type {
  BalancerKind,
  CircuitBreakerConfig,
  DiscoveryConfig,
  HealthCheckConfig,
  HoldConfig,
  MaintenanceConfig,
  OutlierDetectionConfig,
  PoolConfig,
  RetryConfig,
  RouteTimeouts,
  TargetConfig,
  UpstreamConfig,
  UpstreamProtocol,
  UpstreamTimeouts,
} from './upstream-config.ts';

export interface GatewayConfig {
  /** This gateway's name, used in Via and as the Proxy-Status member. */
  readonly name: string;
  /** Absolute path of the file this config came from (or "<demo>"). */
  readonly source: string;
  readonly listen: readonly ListenerConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: Readonly<Record<string, UpstreamConfig>>;
  readonly errors: ErrorsConfig;
  /** How a request's path is made what the router matches and the upstream receives (src/core/uri-path.ts). */
  readonly paths: PathsConfig;
  /** Users' own stages, by name (docs/plugins.md); the routes name those they run. Absent: none. */
  readonly plugins?: Readonly<Record<string, PluginConfig>>;
  /** Where rate limits are shared with other gateways; absent: each gateway keeps its own. */
  readonly store?: StoreConfig;
  /** Automatic HTTPS; absent: every certificate is a configured file. */
  readonly acme?: AcmeConfig;
  /** Where the gateway keeps what a restart must not lose: a canary's verdict without a fleet (kept-verdicts.ts). */
  readonly stateDir: string;
  /** Addresses or CIDR blocks of proxies whose X-Forwarded-* / Forwarded headers we keep. */
  readonly trustForwardedFrom: readonly string[];
  readonly limits: DownstreamLimits;
  readonly log: LogConfig;
  /** Where GET /metrics is served; absent: not served (the counting goes on regardless). */
  readonly metrics?: MetricsConfig;
  readonly drain: DrainConfig;
  /** The admin API; absent: off. */
  readonly admin?: AdminConfig;
  /** OpenTelemetry span export; absent: off. */
  readonly tracing?: TracingConfig;
  /**
   * The values `${NAME}` took from the environment, so that GET /config can show `${NAME}` where
   * they are (a secret put in the environment is there to stay out of files, and out of what the
   * admin API prints); absent: none.
   */
  readonly fromEnvironment?: readonly FromEnvironment[];
}

/** One plugin of `plugins:`: the module its stage comes from, and how its failures are told. */
export interface PluginConfig {
  /**
   * What is imported: an absolute path (a path in the file is taken from the file's directory)
   * or a package name, as written.
   */
  readonly module: string;
  /** The plugin's own options, as written (the plugin checks them: plugin-modules.ts). */
  readonly options: unknown;
  /** How long an asynchronous hook may take, in ms, before its request is a 500 naming it. */
  readonly timeout: number;
  /** `continue`: a failure of the plugin is logged and counted, and the request goes on without it. */
  readonly onError: 'fail' | 'continue';
}

interface MetricsConfig {
  /** As written, e.g. "127.0.0.1:9464". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Names a scrape's Host may give beyond the listener's own (as admin.allowedHosts). */
  readonly allowedHosts: readonly string[];
}

export interface AdminConfig {
  /** As written (or the loopback default), e.g. "127.0.0.1:9901". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /**
   * Where the bearer token is read from (never the token itself: the config is shown by
   * GET /config and sent to workers, the token must appear in neither).
   */
  readonly token: { readonly file: string } | { readonly env: string };
  /** Also answer GET <probesPath>/live and /ready on every main listener (for probes that cannot reach loopback). */
  readonly probesPath?: string;
  /** Host names the admin API answers for beyond its own (lower-case, no port; "*.x" a suffix). */
  readonly allowedHosts: readonly string[];
}

/** `paths`: how request paths are read before matching and forwarding (the normalizer's options). */
export type PathsConfig = PathOptions;

interface ErrorsConfig {
  /** Show the target's address (not just the upstream's name) in Proxy-Status next-hop and error bodies. */
  readonly exposeUpstreamAddress: boolean;
  /** `minimal`: details and next hop stay out of what clients see (body, Proxy-Status); the log keeps them. */
  readonly detail: 'full' | 'minimal';
  /** The operator's pages, read when the config is loaded: the HTML template's text, problem+json's extra members. */
  readonly pages: { readonly html?: string; readonly json?: Readonly<Record<string, unknown>> };
  /** Where they were read from (absolute). */
  readonly pageFiles: { readonly html?: string; readonly json?: string };
}

/** What SIGTERM does (gateway/drain.ts), in milliseconds. */
export interface DrainConfig {
  /** Time between reporting not-ready and closing the listeners: a load balancer stops sending meanwhile. */
  readonly delay: number;
  /** From the signal on: what is still open then (tunnels, slow responses) is cut. */
  readonly timeout: number;
}

export interface LogConfig {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** "stdout", "stderr" or a file path for the access log and the gateway's own events. */
  readonly destination: string;
}

export interface TracingConfig {
  /** Where spans are posted (OTLP/HTTP, JSON), e.g. "http://127.0.0.1:4318/v1/traces". */
  readonly otlpEndpoint: string;
  /** Share of new traces recorded (0–1); a continued trace follows the client's sampled flag. */
  readonly sampleRatio: number;
  /** The `service.name` resource attribute. */
  readonly serviceName: string;
}

export interface StoreConfig {
  readonly redis: RedisStoreConfig;
}

export interface RedisStoreConfig {
  /** redis:// or rediss://, password included (never logged nor shown: see RedisRates). */
  readonly url: string;
  /** What a rate-limited request gets while Redis does not answer in `timeout`. */
  readonly onError: 'allow' | 'deny';
  /** Longest wait for one decision, in ms. */
  readonly timeout: number;
  /** Put before every key, so several fleets can share one Redis. */
  readonly prefix: string;
}
