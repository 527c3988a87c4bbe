import { isIP } from 'node:net';
import type { UpstreamProtocol } from '../../core/config/types.ts';
import type { HeadClockName } from '../../core/config/upstream-config.ts';
import { hostPort } from '../../core/net/host-port.ts';

/**
 * What one probe sends and how long it waits: built from a URL and the command line, or from
 * an upstream of the config, so that it is the request the gateway would send.
 */

interface ProbeTimeouts {
  /** DNS + TCP + TLS together, as the gateway's connector counts it. */
  readonly connect: number;
  /** From the request written to the response head complete: each of the gateway's attempts' wait. */
  readonly answer: number;
  /**
   * The upstream's `timeouts.response`, when its `retries.per_try_timeout` made each attempt's
   * wait (`response`) shorter: the advice then names the per-try timeout, and a probe through
   * the gateway, which may retry, outlasts the longer one.
   */
  readonly upstreamAnswer?: number;
  /** Longest silence between two pieces of the body. */
  readonly read: number;
}

interface ProbeTls {
  /** PEM of the CAs to trust (the system's roots included), or undefined for the default store. */
  readonly ca?: string;
  /** PEM revocation lists (the upstream's `tls.crl`): a revoked certificate is told as the gateway meets it. */
  readonly crl?: string;
  /**
   * The TLS server name sent (SNI) and the name the certificate is checked against; undefined:
   * none is sent, and the certificate is checked against the address (serverNameOf).
   */
  readonly servername?: string;
  /** The upstream is configured to skip verification: a bad certificate is reported, not fatal. */
  readonly insecureSkipVerify: boolean;
  /**
   * The client certificate and key (PEM) the gateway presents to the upstream (its `tls.cert`
   * and `tls.key`, mTLS): a probe without them meets an alert the gateway never meets.
   */
  readonly cert?: string;
  readonly key?: string;
}

export interface ProbePlan {
  readonly protocol: 'http:' | 'https:';
  /** How the request goes, as the upstream's `protocol` says: HTTP/1.1, h2c, or h2 (ALPN). */
  readonly httpVersion: UpstreamProtocol;
  /** Host name or IP literal (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  readonly upstream: string | null;
  readonly viaGateway: boolean;
  readonly method: string;
  /** The request target, e.g. "/health?x=1". */
  readonly path: string;
  /** The Host header sent. */
  readonly host: string;
  /** Header fields as a client would send them (Host first). */
  readonly clientHeaders: ReadonlyArray<readonly [string, string]>;
  /** Send what the gateway adds too (Via, X-Forwarded-*, X-Request-Id, traceparent), as this gateway. */
  readonly asGateway: { readonly name: string } | null;
  readonly timeouts: ProbeTimeouts;
  /**
   * The upstream's hold.timeout, when it holds requests: a refusal makes the gateway wait that
   * long for a target to take the request, then answer 503 (proxy/session/request-hold.ts).
   */
  readonly holdMs?: number;
  readonly tls: ProbeTls;
  /** Stop reading the body past this many bytes (not an error). */
  readonly maxBody: number;
}

/**
 * The TLS server name of a connection to `authority` (host[:port], as in Host): its host name,
 * or undefined for an IP literal, which RFC 6066 §3 does not allow as a server name. A trailing
 * dot goes too (§3: "without a trailing dot").
 *
 * @example serverNameOf('API.example.com:8443') // 'api.example.com'
 * @example serverNameOf('[::1]:8443') // undefined
 */
export function serverNameOf(authority: string): string | undefined {
  if (authority.charCodeAt(0) === 0x5b /* [ */) return undefined;
  const colon = authority.lastIndexOf(':');
  const host = (colon === -1 ? authority : authority.slice(0, colon)).replace(/\.$/, '').toLowerCase();
  return host === '' || isIP(host) !== 0 ? undefined : host;
}

/** "scheme://host:port/path" of a plan, for headings and reports. */
export function planUrl(plan: ProbePlan): string {
  return `${plan.protocol}//${hostPort(plan.hostname, plan.port)}${plan.path}`;
}

/** Durations as the failure details write them: "0.3 ms", "12 ms". */
/** The gateway's setting the probe's wait for the head stands for, as a 504's details name it. */
export function headClockOf(plan: ProbePlan): HeadClockName {
  return plan.timeouts.upstreamAnswer === undefined ? 'response timeout' : 'per-try timeout';
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** The body step's words for a body still coming once the read timeout has passed in all. */
export function stillStreaming(readTimeout: number): string {
  return `still streaming after the read timeout of ${formatMs(readTimeout)} in all: stopped reading`;
}

/** Milliseconds since `started` (a performance.now() value), rounded to 0.1 ms for reports. */
export function since(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
