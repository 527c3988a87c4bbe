import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { DEFAULTS } from '../../core/config/defaults.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { testCertificates } from '../../kits/fault-kit/tls-certs.ts';
import { startDemoUpstreams } from './demo-upstreams.ts';

const DEMO_CONFIG = new URL('./demo.yaml', import.meta.url);

/** The variable the demo's admin token is read from: set it to choose the token, else one is made. */
const DEMO_TOKEN_ENV = 'CANDOR_DEMO_ADMIN_TOKEN';

/**
 * The demo's admin API: added to demo.yaml's text in the file the demo runs, rather than written
 * in demo.yaml, so that demo.yaml stays a file anyone can check or run without a token set. The
 * token is in a file beside it (the owner's only), so that the file the start line names runs as
 * it is from another shell too: `candor reload --config`, `candor diagnose --config`, `candor check`.
 */
const ADMIN_SECTION = `
# Added by \`candor serve --demo\`: the admin API, its status page and /metrics.
admin:
  listen: 127.0.0.1:\${CANDOR_ADMIN_PORT:-9901}
  token_file: admin-token
`;

/**
 * The variables the demo's file uses, each written as the value this run takes (its upstreams'
 * free ports, the listeners' CANDOR_*_PORT or their defaults): the file then says where each
 * upstream is to a command run without the demo's environment, where it said `9105` to `candor
 * diagnose --config` for an upstream on another port.
 */
function writtenForThisRun(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(
    /\$\{((?:DEMO|CANDOR)_(?:[A-Z]+_)*PORT):-(\d+)\}/g,
    (_, name: string, fallback: string) => env[name] || fallback,
  );
}

/**
 * The demo's HTTPS listener, HTTP/2 on (h2 by ALPN, else HTTP/1.1): added after the plain one
 * in the file the demo runs, with a certificate made for this run, so that demo.yaml needs no
 * certificate of its own to be checked or run by hand.
 */
function tlsListener(cert: string, key: string): string {
  return `  # Added by \`candor serve --demo\`: HTTPS with HTTP/2, a certificate made for this run (curl -k).
  - address: 127.0.0.1:\${CANDOR_TLS_PORT:-8443}
    tls: { cert: "${cert}", key: "${key}" }
    http2: true
`;
}

const THIS_RUN = `# Written by \`candor serve --demo\` for one run, from its demo.yaml: the ports are this run's, the
# admin token is in admin-token beside this file, and the folder goes when the demo stops.
#
`;

/** The circuit breaker's defaults the demo runs with, for the banner's word on them. */
const CIRCUIT_FAILURES = DEFAULTS.upstream.circuitBreaker.consecutiveFailures;
const CIRCUIT_OPEN_S = DEFAULTS.upstream.circuitBreaker.openTime / 1000;

/** What each demo route shows, in the order the table prints them. */
const TOUR: readonly [path: string, shows: string][] = [
  ['/healthy', '200 from the healthy app, passed through untouched'],
  ['/healthy/?status=503&retry_after=7', "the app's own 503 + Retry-After, untouched (received-status=503)"],
  ['/compressed', '200 from the healthy app, compressed (curl --compressed): Content-Encoding, Vary'],
  ['/refused', '502 connection_refused: nothing listens on the port'],
  ['/unresolvable', '502 dns_error: the host name does not resolve'],
  ['/tls-mismatch', '502 tls_protocol_error: https:// to a plain HTTP port'],
  ['/slow', '504 http_response_timeout after 2 s: accepted, never answered'],
  ['/reset', '502 connection_terminated: closed before the response head'],
  ['/garbage', '502 http_protocol_error: an SSH server on the port'],
  ['/badheader', '502 http_protocol_error: an invalid response header'],
  ['/truncated', '200, then the transfer is aborted: reset mid-body (logged http_response_incomplete)'],
  [
    '/pool',
    '200 always: one of three targets dies and returns every 10 s (retried, ejected, health-checked)',
  ],
  ['/nowhere-else', '200 from the healthy app (the catch-all route)'],
];

/**
 * The demo, ready to be served by the same cluster primary as `candor serve` (the command line
 * runs it: the demo does not know the command line): its config file, the config read from it,
 * the banner, and how to stop its upstreams.
 */
interface PreparedDemo {
  readonly path: string;
  readonly config: GatewayConfig;
  /** The text printed once the gateway listens: the routes to try, the status page, /metrics, the token. */
  banner(where: {
    readonly gatewayPort: number;
    readonly ports: readonly number[];
    readonly adminPort: number | undefined;
  }): string;
  close(): Promise<void>;
}

/**
 * `npm start`: the demo upstreams (one healthy, one per failure shape) on free ports, written
 * into the config in place of its ${DEMO_*_PORT} variables (so that a reload, or a command run
 * from another shell, reads the file as the start did), and an admin token made for this run
 * unless one is set. Answers why not when the gateway's or the admin API's port is taken.
 */
export async function prepareDemo(): Promise<PreparedDemo | { readonly problem: string }> {
  const upstreams = await startDemoUpstreams();
  // 144 random bits, printed in the banner: the demo listens on loopback only, and the token still
  // keeps other local users' programs from driving it.
  const token = process.env[DEMO_TOKEN_ENV] || randomBytes(18).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'candor-demo-'));
  const close = async () => {
    rmSync(dir, { recursive: true, force: true });
    await upstreams.close();
  };
  const path = join(dir, 'candor-demo.yaml');
  // The certificate is made with openssl (the kit's, signed by a throwaway CA, valid 2 days);
  // without openssl the demo runs without its HTTPS listener.
  let https = '';
  try {
    const { localhost } = testCertificates();
    https = tlsListener(localhost.certPath, localhost.keyPath);
  } catch {
    // No openssl here: the demo serves plain HTTP (and h2c) only.
  }
  const text = readFileSync(DEMO_CONFIG, 'utf8');
  const afterListen = text.indexOf('\nroutes:');
  writeFileSync(join(dir, 'admin-token'), `${token}\n`, { mode: 0o600 });
  writeFileSync(
    path,
    THIS_RUN +
      writtenForThisRun(text.slice(0, afterListen) + https + text.slice(afterListen) + ADMIN_SECTION, {
        ...process.env,
        ...upstreams.env,
      }),
    { mode: 0o600 },
  );
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(path);
  } catch (err) {
    await close();
    if (err instanceof ConfigError) return { problem: formatConfigProblems(err.problems) };
    throw err;
  }
  // The workers would find a taken port too, each on its own; checked here first, it is one clear line.
  for (const [address, variable] of [
    [config.listen[0], 'CANDOR_PORT'],
    [config.listen[1], 'CANDOR_TLS_PORT'],
    [config.admin, 'CANDOR_ADMIN_PORT'],
  ] as const) {
    if (address === undefined) continue;
    const taken = await portTaken(address.host, address.port);
    if (taken !== undefined) {
      await close();
      return { problem: `${taken} (set ${variable} to use another port)` };
    }
  }
  return {
    path,
    config,
    close,
    banner({ gatewayPort, ports, adminPort }) {
      const base = `http://${config.listen[0].host}:${gatewayPort}`;
      const width = Math.max(...TOUR.map(([path]) => base.length + path.length));
      const lines = TOUR.map(([path, shows]) => `  ${(base + path).padEnd(width)}  ${shows}`);
      const admin = `http://${config.admin?.host}:${adminPort}`;
      const tls = config.listen[1];
      const httpsLine =
        tls === undefined
          ? ''
          : `  curl -i --http2 -k https://${tls.host}:${ports[1]}/refused   (HTTP/2 over TLS, a certificate made for this run)\n`;
      const adminLines =
        adminPort === undefined
          ? ''
          : `Status page:  ${admin}/  (it asks for the admin token: ${token})\n` +
            `Metrics:      curl -H 'Authorization: Bearer ${token}' ${admin}/metrics\n\n`;
      return (
        `\nCandor demo: gateway "${config.name}" on ${base}, access log on stdout.\n\n` +
        `Try (add -H 'Accept: application/json' for problem+json, or open them in a browser):\n\n` +
        `${lines.join('\n')}\n\n` +
        // The table is the first answers' story: a failing upstream's circuit then opens.
        `  Past ${CIRCUIT_FAILURES} failed attempts in a row (each worker counts its own), a failing upstream's circuit opens:\n` +
        `  503 destination_unavailable naming the last failure, Retry-After, a probe every ${CIRCUIT_OPEN_S} s until one succeeds.\n\n` +
        `  curl -i ${base}/refused\n` +
        `  curl -i --http2-prior-knowledge ${base}/refused\n${httpsLine}\n${adminLines}Ctrl-C stops it.\n\n`
      );
    },
  };
}

/** The listen error when host:port cannot be bound now (port 0 never is taken). */
function portTaken(host: string, port: number): Promise<string | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err) => resolve(err.message));
    probe.listen(port, host, () => probe.close(() => resolve(undefined)));
  });
}
