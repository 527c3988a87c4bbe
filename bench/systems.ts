/**
 * The systems under test, one interface: each starts on its own port, pinned to the proxy
 * CPU, forwarding `/fail` to the refused port and everything else to the origin. And how every
 * bench starts Candor and an nginx proxy in front of the origin (run.ts's systems, and
 * cache-hit.ts, h2.ts, compression.ts, access-cost.ts with configs of their own).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxMain, startNginx } from './nginx.ts';
import { NODE_BIN, REPO_DIR } from './paths.ts';
import { type PinnedProcess, startPinned, waitForPort } from './process.ts';

export interface SystemContext {
  /** A private folder (mode 0755) for the system's config and logs. */
  readonly dir: string;
  /** Where the system must listen, on 127.0.0.1. */
  readonly port: number;
  readonly originPort: number;
  /** A port nothing listens on: connections to it are refused. */
  readonly deadPort: number;
  readonly workers: number;
  /** The CPU list (taskset -c) the system runs on. */
  readonly cpu: string;
}

export interface RunningSystem {
  readonly port: number;
  /** Undefined for "direct", which has no process of its own. */
  readonly process: PinnedProcess | undefined;
  /** The access log, emptied between measurements so the disk does not fill. */
  readonly accessLog: string | undefined;
}

/**
 * `ceiling`: the raw node:net proxy, what a Node proxy can do without node:http (Candor's
 * yardstick); `floor`: that proxy doing also what Candor's contract asks of every request
 * (bench/peers/contract-floor.ts), the most a proxy keeping the contract can do here.
 */
export type SystemGroup = 'baseline' | 'c' | 'node' | 'ceiling' | 'floor' | 'candor';

export interface SystemDefinition {
  readonly id: string;
  readonly label: string;
  readonly group: SystemGroup;
  /** One line on how it is configured, for RESULTS.md. */
  readonly setup: string;
  /** Measured only when `--only` names it (a variant for a question, not a peer of every run). */
  readonly onlyWhenNamed?: boolean;
  start(context: SystemContext): Promise<RunningSystem>;
}

/** Where a bench starts one proxy of its own: its private folder, its port, the origin's, its CPU. */
export interface ProxyPlace {
  readonly dir: string;
  readonly port: number;
  readonly originPort: number;
  /** The CPU list (taskset -c) it runs on; absent: wherever the kernel puts it. */
  readonly cpu?: string;
}

/**
 * A bench's Candor config: one listener on the place's port (`listen`: more of its fields, each
 * line indented as a field of it), `routes` (YAML lines of the list), the `origin` upstream
 * with a pool of up to 1024 (and `upstreams`: more of them), the access log at info to dir/access.log.
 * The pool's bound is above any bench's load, as the peers have none: nginx's `keepalive 256` and
 * the ceilings keep 256 idle connections but open as many as the load asks, so a bound of 256
 * would queue Candor's requests (h2.ts's 400 streams) where no peer queues them.
 */
export function candorYaml(
  place: ProxyPlace,
  parts: {
    readonly listen?: string;
    readonly routes: string;
    readonly upstreams?: string;
    readonly more?: string;
  },
): string {
  return `name: bench
listen:
  - address: 127.0.0.1:${place.port}
${parts.listen ?? ''}routes:
${parts.routes}upstreams:
  origin:
    targets: [ { url: "http://127.0.0.1:${place.originPort}" } ]
    pool: { max_connections: 1024, idle_timeout: 30s }
${parts.upstreams ?? ''}log:
  level: info
  destination: ${join(place.dir, 'access.log')}
${parts.more ?? ''}`;
}

/**
 * `candor serve --config dir/candor.yaml --workers N` (one worker unless told) from a checkout
 * (this one unless told), NODE_ENV=production, its output in dir/output.log; resolves once its
 * port accepts connections.
 */
export async function startCandor(
  place: Omit<ProxyPlace, 'originPort'>,
  yaml: string,
  options: { readonly workers?: number; readonly repoDir?: string } = {},
): Promise<PinnedProcess> {
  const repoDir = options.repoDir ?? REPO_DIR;
  const cli = join(repoDir, 'bin', 'candor.js');
  if (!existsSync(cli)) throw new Error(`${cli} does not exist`);
  const config = join(place.dir, 'candor.yaml');
  writeFileSync(config, yaml);
  const proc = startPinned({
    cpu: place.cpu,
    command: NODE_BIN,
    // Always explicit: candor serve defaults to one worker per core.
    args: [cli, 'serve', '--config', config, '--workers', String(options.workers ?? 1)],
    cwd: repoDir,
    env: { ...process.env, NODE_ENV: 'production' },
    outputFile: join(place.dir, 'output.log'),
  });
  await waitForPort(place.port, proc, 20_000).catch(async (err: unknown) => {
    await proc.stop();
    throw err;
  });
  return proc;
}

/**
 * The `http {}` lines every bench's nginx proxy starts with: the combined access log to
 * `accessLog`, client keep-alive without a practical end, and the `origin` upstream over
 * HTTP/1.1 keep-alive, a pool of 256.
 */
export function nginxToOrigin(place: ProxyPlace, accessLog = join(place.dir, 'access.log')): string {
  return `  access_log ${accessLog} combined;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  upstream origin {
    server 127.0.0.1:${place.originPort};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
`;
}

/** nginx with `http` (after nginxToOrigin's lines) as its `http {}`; resolves once its port accepts connections. */
export async function startNginxProxy(place: ProxyPlace, http: string, workers = 1): Promise<PinnedProcess> {
  const conf = nginxMain(place.dir, workers, `${nginxToOrigin(place)}${http}`);
  const proc = startNginx(place.dir, conf, place.cpu);
  await waitForPort(place.port, proc, 10_000).catch(async (err: unknown) => {
    await proc.stop();
    throw err;
  });
  return proc;
}
