/**
 * The HTTP/2 scenario: `node bench/h2.ts [--seconds N] [--rounds N] [--clients N] [--streams N]`
 * (`npm run bench:h2 -- …`). h2load over TLS (ALPN h2), `--clients` connections (4) with
 * `--streams` concurrent streams each (100), GET /small (100 bytes) through Candor (one worker,
 * a TLS listener with `http2: true`) and through nginx (one worker, `listen … ssl http2`), both
 * to the same nginx origin over HTTP/1.1 keep-alive, access logs on; beside them the ceiling of a
 * Node gateway here (bench/peers/h2-net-proxy.mjs: node:http2 in front of node:net, ~90 lines),
 * and the contract's floor (bench/peers/h2-contract-floor.ts: that ceiling doing also, with
 * Candor's own code, what the contract asks of every request: the most a gateway keeping it does).
 * The proxy on CPU 0, h2load and the origin on CPU 1; rounds alternated, the median reported.
 * The ceiling and the floor run with V8's own heap sizing, which on a host of this one's memory
 * lets the young generation's semi-spaces grow to 64 MB; a Candor worker caps them at 16 MB
 * (src/server/cluster/worker-flags.ts says why), so it scavenges more often under this load
 * than they do: 32 MB would halve its GC share here, at some 26 MiB more resident.
 * Prints a table; writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { wholeNumbers } from './flags.ts';
import { startOrigin } from './origin.ts';
import { NODE_BIN, openDir, PEERS_DIR, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import { type PinnedProcess, startPinned, waitForPort } from './process.ts';
import { spread } from './stats.ts';
import { candorYaml, type ProxyPlace, startCandor, startNginxProxy } from './systems.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';

interface H2Options {
  readonly seconds: number;
  readonly rounds: number;
  readonly clients: number;
  readonly streams: number;
}

function parse(argv: readonly string[]): H2Options {
  return wholeNumbers(
    argv,
    { seconds: 10, rounds: 3, clients: 4, streams: 100 },
    'usage: node bench/h2.ts [--seconds N] [--rounds N] [--clients N] [--streams N]',
  );
}

/** A throwaway self-signed certificate for 127.0.0.1 (openssl), in `dir`. */
function certificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Candor, one worker: a TLS listener with `http2: true`, every request to the origin. */
function startCandorH2(place: ProxyPlace, tls: { cert: string; key: string }): Promise<PinnedProcess> {
  return startCandor(
    place,
    candorYaml(place, {
      listen: `    tls: { cert: ${tls.cert}, key: ${tls.key} }
    http2: true
`,
      routes: `  - upstream: origin
`,
    }),
  );
}

/** nginx 1.22 (Debian 12): HTTP/2 is a `listen` parameter (`http2 on` came in 1.25.1). */
function startNginxH2(place: ProxyPlace, tls: { cert: string; key: string }): Promise<PinnedProcess> {
  return startNginxProxy(
    place,
    `  http2_max_concurrent_streams 128;
  server {
    listen 127.0.0.1:${place.port} ssl http2 backlog=4096;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    location / { proxy_pass http://origin; }
  }`,
  );
}

/** The ceiling (or the floor, `script`): node:http2's server over TLS in front of raw node:net keep-alive connections. */
async function startCeiling(
  dir: string,
  port: number,
  originPort: number,
  tls: { cert: string; key: string },
  script = 'h2-net-proxy.mjs',
) {
  const proc = startPinned({
    cpu: PROXY_CPU,
    command: NODE_BIN,
    args: [join(PEERS_DIR, script)],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      ORIGIN_PORT: String(originPort),
      ACCESS_LOG: join(dir, 'access.log'),
      TLS_CERT: tls.cert,
      TLS_KEY: tls.key,
    },
    outputFile: join(dir, 'output.log'),
  });
  await waitForPort(port, proc, 15_000);
  return proc;
}

interface H2Run {
  readonly rps: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** One h2load run on the load CPU; its "finished in …, N req/s" and request counts. */
function h2load(port: number, options: H2Options): H2Run {
  const out = execFileSync(
    'taskset',
    [
      ...['-c', LOAD_CPU, 'h2load'],
      ...['-c', String(options.clients), '-m', String(options.streams)],
      ...['--warm-up-time', '2s', '-D', `${options.seconds}s`],
      `https://127.0.0.1:${port}/small`,
    ],
    { encoding: 'utf8', timeout: (options.seconds + 30) * 1000 },
  );
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  if (!Number.isFinite(rps) || counts === null) throw new Error(`h2load said:\n${out}`);
  const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
  if (protocol !== 'h2') throw new Error(`h2load negotiated ${protocol ?? 'nothing'}, not h2`);
  return { rps, succeeded: Number(counts[1]), failed: Number(counts[2]) };
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const dir = runDir('candor-bench-h2-');
  const running: PinnedProcess[] = [];
  try {
    const [originPort, candorPort, nginxPort, ceilingPort, floorPort] = await freePorts(5);
    for (const sub of ['origin', 'candor', 'nginx', 'ceiling', 'floor']) openDir(join(dir, sub));
    const tls = certificate(dir);
    running.push(await startOrigin(join(dir, 'origin'), originPort, LOAD_CPU));
    const place = (sub: string, port: number) => ({ dir: join(dir, sub), port, originPort, cpu: PROXY_CPU });
    running.push(await startCandorH2(place('candor', candorPort), tls));
    running.push(await startNginxH2(place('nginx', nginxPort), tls));
    running.push(await startCeiling(join(dir, 'ceiling'), ceilingPort, originPort, tls));
    running.push(await startCeiling(join(dir, 'floor'), floorPort, originPort, tls, 'h2-contract-floor.ts'));
    const systems = [
      { label: 'Candor', port: candorPort, runs: [] as H2Run[] },
      { label: 'nginx', port: nginxPort, runs: [] as H2Run[] },
      { label: 'node:http2 + node:net (ceiling)', port: ceilingPort, runs: [] as H2Run[] },
      { label: "the ceiling + the contract's musts (floor)", port: floorPort, runs: [] as H2Run[] },
    ];
    for (let round = 0; round < options.rounds; round++)
      for (const system of systems) {
        const run = h2load(system.port, options);
        system.runs.push(run);
        process.stderr.write(`bench h2: round ${round + 1} ${system.label}: ${Math.round(run.rps)} req/s\n`);
      }
    const nginxRps = spread(systems[1].runs.map((r) => r.rps)).median;
    const ceilingRps = spread(systems[2].runs.map((r) => r.rps)).median;
    process.stdout.write(
      `\nh2load -c ${options.clients} -m ${options.streams} -D ${options.seconds}s over TLS (h2), GET /small, ` +
        `${options.rounds} rounds, median:\n\n| system | req/s | × nginx | × ceiling | failed |\n|---|--:|--:|--:|--:|\n`,
    );
    for (const system of systems) {
      const rps = spread(system.runs.map((r) => r.rps)).median;
      const failed = system.runs.reduce((sum, r) => sum + r.failed, 0);
      process.stdout.write(
        `| ${system.label} | ${Math.round(rps).toLocaleString('en-US')} | ${(rps / nginxRps).toFixed(2)}× | ${(rps / ceilingRps).toFixed(2)}× | ${failed} |\n`,
      );
    }
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench h2: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
