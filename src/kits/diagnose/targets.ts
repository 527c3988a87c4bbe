/**
 * TARGET to probe plans: a URL, or the name of an upstream in the config, each of whose
 * targets is probed with the request the gateway would send and that upstream's timeouts
 * and TLS settings. Command-line values win over the config; DEFAULTS fill the rest.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { DEFAULTS } from '../../core/config/defaults.ts';
import { caProblem, unreadableReason } from '../../core/config/file-checks.ts';
import { readErrorReason } from '../../core/config/read-error.ts';
import type { GatewayConfig, UpstreamConfig, UpstreamProtocol } from '../../core/config/types.ts';
import { didYouMean } from '../../core/did-you-mean.ts';
import { VERSION } from '../../core/version.ts';
import { type ProbePlan, serverNameOf } from './plan.ts';

export interface DiagnoseOptions {
  /** A URL, or an upstream name of `config`. */
  readonly target: string;
  readonly config?: GatewayConfig;
  readonly method?: string;
  /** Request target; default the URL's path, or "/". */
  readonly path?: string;
  /** Host header; default the target's host (and port). */
  readonly host?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly connectTimeout?: number;
  readonly answerTimeout?: number;
  readonly readTimeout?: number;
  /** PEM file of a CA to trust besides the system's. */
  readonly ca?: string;
  readonly maxBody?: number;
  /** The gateway's URL, to send the same request through it too. */
  readonly via?: string;
  /** How to speak to the target (default: the upstream's protocol, or http1). */
  readonly protocol?: UpstreamProtocol;
}

/** TARGET or an option cannot be used; the command line is wrong (exit 64). */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

const DEFAULT_MAX_BODY = 1024 * 1024;

interface Endpoint {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  /** host[:port] as a Host header writes it. */
  readonly authority: string;
  readonly path: string;
}

function parseEndpoint(text: string, what: string): Endpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TargetError(`${what} "${text}" is not a URL (http://host:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetError(`${what} "${text}" must be http:// or https://`);
  // The probe sends no credentials from the URL (nor can a target of the gateway's carry them),
  // and a report quoting the URL would print the password: refused, without it.
  if (url.username !== '' || url.password !== '') {
    url.username = '';
    url.password = '';
    throw new TargetError(
      `${what} "${url.href}" must not carry user:password@: they would not be sent (nor can a gateway's target carry them); send -H 'Authorization: …' instead`,
    );
  }
  // The URL parser takes `:0`; a connect to it fails at once (EADDRNOTAVAIL), and the port left
  // out of the probe's address was read as the scheme's default: port 80 probed under ":0".
  if (url.port === '0')
    throw new TargetError(`${what} "${text}" names port 0, which is no port to connect to`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  return {
    protocol: url.protocol,
    hostname,
    port,
    authority: url.host,
    path: `${url.pathname}${url.search}`,
  };
}

export function isUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
}

/** The plans for every target TARGET names (one for a URL). */
export function planTargets(options: DiagnoseOptions): ProbePlan[] {
  const { config } = options;
  if (isUrl(options.target)) {
    const endpoint = parseEndpoint(options.target, 'TARGET');
    const upstream = config ? findUpstreamOf(config, endpoint) : undefined;
    return [planFor(endpoint, upstream, options)];
  }
  if (!config)
    throw new TargetError(
      `"${options.target}" is not a URL; to probe an upstream by name, give --config FILE`,
    );
  const upstream = config.upstreams[options.target];
  if (!upstream) {
    const names = Object.keys(config.upstreams);
    const guess = didYouMean(options.target, names);
    throw new TargetError(
      `no upstream "${options.target}" in ${config.source}${guess ? `; did you mean "${guess}"?` : ` (upstreams: ${names.join(', ')})`}`,
    );
  }
  return upstream.targets.map((target) =>
    planFor(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        authority: new URL(target.origin).host,
        path: '/',
      },
      upstream,
      options,
    ),
  );
}

/** The plan of the same request sent through the gateway at `via`. */
export function planVia(options: DiagnoseOptions, direct: ProbePlan): ProbePlan {
  const gateway = parseEndpoint(options.via as string, '--compare/--via');
  return {
    ...direct,
    // A path on the gateway's URL is the route's (`/api/orders` to an upstream that sees
    // `/orders`): dropping it sent the direct probe's path through the gateway, to another route.
    path: gateway.path === '/' ? direct.path : gateway.path,
    protocol: gateway.protocol,
    // The gateway's clients speak HTTP/1.1 to it, whatever it speaks to its upstreams.
    httpVersion: 'http1',
    hostname: gateway.hostname,
    port: gateway.port,
    upstream: null,
    viaGateway: true,
    host: options.host ?? gateway.authority,
    clientHeaders: clientHeaders(options.host ?? gateway.authority, options),
    asGateway: null,
    // The gateway's own timeouts must fire first, so that its answer is what we see.
    timeouts: {
      connect: direct.timeouts.connect,
      read: direct.timeouts.read,
      answer: (direct.timeouts.upstreamAnswer ?? direct.timeouts.answer) + direct.timeouts.connect + 1000,
    },
    // As a client addressing that host would: the gateway picks its certificate by this name.
    tls: {
      ca: direct.tls.ca,
      servername: serverNameOf(options.host ?? gateway.authority),
      insecureSkipVerify: false,
    },
  };
}

function findUpstreamOf(config: GatewayConfig, endpoint: Endpoint): UpstreamConfig | undefined {
  return Object.values(config.upstreams).find((upstream) =>
    upstream.targets.some(
      (t) => t.protocol === endpoint.protocol && t.hostname === endpoint.hostname && t.port === endpoint.port,
    ),
  );
}

function planFor(
  endpoint: Endpoint,
  upstream: UpstreamConfig | undefined,
  options: DiagnoseOptions,
): ProbePlan {
  const timeouts = upstream?.timeouts ?? DEFAULTS.upstream.timeouts;
  const host = options.host ?? endpoint.authority;
  const caFile = options.ca ?? upstream?.tls.ca;
  const httpVersion = options.protocol ?? upstream?.protocol ?? 'http1';
  if (httpVersion === 'h2' && endpoint.protocol !== 'https:')
    throw new TargetError(
      '--protocol h2 is HTTP/2 over TLS: give an https:// URL (h2c is HTTP/2 in the clear)',
    );
  if (httpVersion === 'h2c' && endpoint.protocol !== 'http:')
    throw new TargetError(
      '--protocol h2c is HTTP/2 in the clear: give an http:// URL (h2 is HTTP/2 over TLS)',
    );
  return {
    protocol: endpoint.protocol,
    httpVersion,
    hostname: endpoint.hostname,
    port: endpoint.port,
    upstream: upstream?.name ?? null,
    viaGateway: false,
    method: (options.method ?? 'GET').toUpperCase(),
    path: options.path ?? (endpoint.path === '' ? '/' : endpoint.path),
    host,
    clientHeaders: clientHeaders(host, options),
    asGateway: { name: options.config?.name ?? DEFAULTS.name },
    timeouts: {
      connect: options.connectTimeout ?? timeouts.connect,
      read: options.readTimeout ?? timeouts.read,
      ...answerWait(options, upstream),
    },
    ...(upstream?.hold === undefined ? {} : { holdMs: upstream.hold.timeout }),
    tls: {
      ca: caFile === undefined ? undefined : readCa(caFile),
      // For an upstream of the config, the name the gateway sends (connector.ts): its
      // tls.servername, or the target's host name, either without a trailing dot, whatever Host
      // says, so that the probe meets the certificate the gateway meets. For a URL of no
      // upstream, the host the request names (--host, or the URL's), as a client sends it: an
      // SNI-routed server picks its certificate by it, and the certificate is checked against
      // it, not the address dialled.
      servername:
        upstream === undefined
          ? serverNameOf(host)
          : serverNameOf(upstream.tls.servername ?? endpoint.authority),
      insecureSkipVerify: upstream?.tls.insecureSkipVerify ?? false,
      ...(upstream?.tls.crl === undefined ? {} : { crl: readTlsFile(upstream.tls.crl, 'revocation list') }),
      ...(upstream?.tls.cert === undefined || upstream.tls.key === undefined
        ? {}
        : {
            cert: readTlsFile(upstream.tls.cert, 'client certificate'),
            key: readTlsFile(upstream.tls.key, 'client key'),
          }),
    },
    maxBody: options.maxBody ?? DEFAULT_MAX_BODY,
  };
}

/**
 * How long the probe waits for the head: --timeout, else what each of the gateway's attempts
 * waits (upstream.ts): the upstream's `retries.per_try_timeout` when it is below its
 * `timeouts.response`. Waiting `timeouts.response` judged ok a target the gateway gives up on.
 */
function answerWait(
  options: DiagnoseOptions,
  upstream: UpstreamConfig | undefined,
): { answer: number; upstreamAnswer?: number } {
  if (options.answerTimeout !== undefined) return { answer: options.answerTimeout };
  const answer = upstream?.timeouts.response ?? DEFAULTS.upstream.timeouts.response;
  const perTry = upstream?.retries.perTryTimeout ?? answer;
  return perTry < answer ? { answer: perTry, upstreamAnswer: answer } : { answer };
}

function clientHeaders(host: string, options: DiagnoseOptions): Array<readonly [string, string]> {
  return [
    ['host', host],
    ['user-agent', `candor-diagnose/${VERSION}`],
    ['accept', '*/*'],
    ...(options.headers ?? []),
  ];
}

/** A CA file is trusted in addition to the system's roots, as the gateway does. */
function readCa(path: string): string {
  const text = readTlsFile(path, 'CA');
  // TLS would take a file without a certificate and probe with the system's roots alone.
  const problem = caProblem(text);
  if (problem !== undefined) throw new TargetError(`the CA file ${path} ${problem}`);
  return [...rootCertificates, text].join('\n');
}

/** A PEM file the probe's TLS needs (the CA, the upstream's client certificate and key), as text. */
function readTlsFile(path: string, what: string): string {
  // A regular file only: a device (/dev/zero) would be read without end.
  const unreadable = unreadableReason(path);
  if (unreadable !== undefined) throw new TargetError(`cannot read the ${what} file ${path}: ${unreadable}`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TargetError(`cannot read the ${what} file ${path}: ${readErrorReason(err)}`);
  }
}
