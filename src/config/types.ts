/**
 * The validated, normalised, frozen configuration the gateway runs on.
 *
 * The YAML file uses snake_case and human units ("250ms", "8KiB"); this is what the
 * loader turns it into: camelCase, durations in milliseconds, sizes in bytes, URLs parsed.
 * Every default lives in `defaults.ts`; nothing downstream invents one.
 */

export interface GatewayConfig {
  /** This gateway's name, used in Via and as the Proxy-Status member. */
  readonly name: string;
  /** Absolute path of the file this config came from (or "<demo>"). */
  readonly source: string;
  readonly listen: readonly ListenerConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: Readonly<Record<string, UpstreamConfig>>;
  readonly errors: ErrorsConfig;
  /** Addresses or CIDR blocks of proxies whose X-Forwarded-* / Forwarded headers we keep. */
  readonly trustForwardedFrom: readonly string[];
  readonly limits: DownstreamLimits;
  readonly log: LogConfig;
}

export interface ListenerConfig {
  /** As written in the config, e.g. "127.0.0.1:8080" or "[::1]:8443". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface RouteConfig {
  /** Position in the file, used in logs when a route has no name. */
  readonly index: number;
  /** Route name for logs and metrics: `name` from the file, else "<host><path>". */
  readonly name: string;
  /** Lower-cased host without port; "*.example.com" matches any subdomain. Absent: any host. */
  readonly host?: string;
  /** Path prefix, always starting with "/". Matches on segment boundaries ("/v1" matches "/v1/x", not "/v10"). */
  readonly path: string;
  readonly upstream: string;
  readonly stripPrefix: boolean;
  readonly limits: { readonly body: number };
}

export type BalancerKind = 'round_robin' | 'least_conn';

export interface UpstreamConfig {
  readonly name: string;
  readonly targets: readonly TargetConfig[];
  readonly balancer: BalancerKind;
  readonly pool: { readonly maxConnections: number; readonly idleTimeout: number };
  readonly timeouts: UpstreamTimeouts;
  readonly tls: UpstreamTlsConfig;
}

export interface TargetConfig {
  /** The target URL as written, e.g. "http://127.0.0.1:3001". */
  readonly url: string;
  /** "http:" or "https:". */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP literal (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** scheme://host:port, the key of its connection pool. */
  readonly origin: string;
  readonly weight: number;
}

export interface UpstreamTimeouts {
  /** DNS lookup plus TCP (and TLS) connect. */
  readonly connect: number;
  /** From the request written to the response head received. */
  readonly response: number;
  /** Longest silence between two body chunks of the response. */
  readonly read: number;
  /** Whole exchange, from routing to the last byte. */
  readonly total: number;
}

export interface UpstreamTlsConfig {
  /** PEM file(s) of CAs to trust in addition to (not instead of) the system store. */
  readonly ca?: string;
  /** SNI and certificate name to check; default: the target's hostname. */
  readonly servername?: string;
  /** Skip certificate verification (never in production; logged at startup). */
  readonly insecureSkipVerify: boolean;
}

export interface ErrorsConfig {
  /** Show the target's address (not just the upstream's name) in Proxy-Status next-hop and error bodies. */
  readonly exposeUpstreamAddress: boolean;
}

export interface DownstreamLimits {
  /** Largest request header section (request line included) before 431. */
  readonly headerSize: number;
  /** Longest request target before 414. */
  readonly uriLength: number;
  /** Time allowed for the client to send the whole header section before 408. */
  readonly headerTimeout: number;
  /** Longest silence while receiving a request body before 408. */
  readonly bodyIdleTimeout: number;
  /** Idle keep-alive connections from clients are closed after this. */
  readonly keepAliveTimeout: number;
}

export interface LogConfig {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** "stdout", "stderr" or a file path for the access log and the gateway's own events. */
  readonly destination: string;
}
