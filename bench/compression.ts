/**
 * Compression, in one command: `node bench/compression.ts [--seconds N] [--rounds N]
 * [--connections N] [--warmup N]` (`npm run bench:compression -- …`).
 *
 * A 64 KiB JSON answer (origin.ts's `/text-64k`, about 7× smaller gzipped) through Candor and
 * through nginx, one worker each on CPU 0, both to the same nginx origin over keep-alive, access
 * logs on; wrk (one thread, `--connections`, 50) and the origin on CPU 1. Each proxy has a route
 * that compresses (gzip at level 6, compression-systems.ts) and one that does not. Six cases:
 * gzip through each; each proxy's route without compression; each proxy's compressing route
 * asked without `Accept-Encoding` (what a route that does not compress costs, measured on the
 * same process: Candor's wrapper that decides, then passes through). Every case is probed first
 * (the body decodes to the origin's bytes). Then a warm-up, then `--rounds` rounds, the cases
 * in a rotated order each round. Prints the table (medians, min–max) and the ratios; writes nothing.
 * CPU per request is the proxy's own (its process tree's user + system time over wrk's requests).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GZIP_LEVEL, startCandorCompressing, startNginxCompressing } from './compression-systems.ts';
import { wholeNumbers } from './flags.ts';
import { percent, ratio, rps } from './format.ts';
import { cpuSnapshot, foreignShare, treeCpuSeconds } from './noise.ts';
import { jsonText, LARGE_SIZE, startOrigin } from './origin.ts';
import { openDir, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import type { Scenario } from './scenarios.ts';
import { type Spread, spread } from './stats.ts';
import { runWrk, writeScript } from './wrk.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';
const USAGE =
  'usage: node bench/compression.ts [--seconds N (10)] [--rounds N (5)] [--connections N (50)] [--warmup N (2)]';

interface Options {
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly warmup: number;
}

function parse(argv: readonly string[]): Options {
  return wholeNumbers(argv, { seconds: 10, rounds: 5, connections: 50, warmup: 2 }, USAGE, { warmup: 0 });
}

type SystemId = 'candor' | 'nginx';

interface Case {
  readonly id: string;
  readonly label: string;
  readonly system: SystemId;
  readonly route: 'gzip' | 'plain';
  /** The client sends `Accept-Encoding: gzip`. */
  readonly gzip: boolean;
}

const CASES: readonly Case[] = [
  { id: 'candor-gzip', label: 'Candor, gzip', system: 'candor', route: 'gzip', gzip: true },
  { id: 'nginx-gzip', label: 'nginx, gzip on', system: 'nginx', route: 'gzip', gzip: true },
  {
    id: 'candor-plain',
    label: 'Candor, route without compression',
    system: 'candor',
    route: 'plain',
    gzip: false,
  },
  {
    id: 'candor-not-accepted',
    label: 'Candor, route with compression, client without Accept-Encoding',
    system: 'candor',
    route: 'gzip',
    gzip: false,
  },
  { id: 'nginx-plain', label: 'nginx, location without gzip', system: 'nginx', route: 'plain', gzip: false },
  {
    id: 'nginx-not-accepted',
    label: 'nginx, gzip on, client without Accept-Encoding',
    system: 'nginx',
    route: 'gzip',
    gzip: false,
  },
];

function scenarioOf(c: Case, connections: number): Scenario {
  return {
    id: c.id,
    title: c.label,
    path: `/${c.route}/text-64k`,
    connections,
    failShare: 0,
    quick: false,
    lua: c.gzip ? 'wrk.headers["Accept-Encoding"] = "gzip"\n' : '',
  };
}

interface Measured {
  readonly rps: number[];
  readonly cpuUs: number[];
  readonly p99Ms: number[];
  readonly foreign: number[];
  errors: number;
  /** The body's size on the wire, from the probe. */
  bodyBytes: number;
}

/** One GET through the proxy; throws unless it is the origin's JSON, gzipped exactly when asked. */
function probe(port: number, c: Case, expected: Buffer): Promise<number> {
  const headers = c.gzip ? { 'accept-encoding': 'gzip' } : {};
  return new Promise((resolve, reject) => {
    const path = `/${c.route}/text-64k`;
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const coding = res.headers['content-encoding'];
        const wanted = c.gzip ? 'gzip' : undefined;
        if (res.statusCode !== 200 || coding !== wanted)
          return reject(
            new Error(`${c.id}: ${res.statusCode}, Content-Encoding ${coding}, not 200 ${wanted}`),
          );
        const decoded = c.gzip ? gunzipSync(body) : body;
        if (!decoded.equals(expected)) return reject(new Error(`${c.id}: the body is not the origin's`));
        resolve(body.length);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${c.id}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function log(line: string): void {
  process.stderr.write(`bench compression: ${line}\n`);
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  // The harness next to the load generator, away from the proxies.
  execFileSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
  const dir = runDir('candor-bench-compression-');
  const running: PinnedProcess[] = [];
  try {
    const [originPort, candorPort, nginxPort] = await freePorts(3);
    const origin = await startOrigin(openDir(join(dir, 'origin')), originPort, LOAD_CPU);
    running.push(origin);
    const place = (sub: string, port: number) => ({
      dir: openDir(join(dir, sub)),
      port,
      originPort,
      cpu: PROXY_CPU,
    });
    const proxies: Record<SystemId, { port: number; proc: PinnedProcess }> = {
      candor: { port: candorPort, proc: await startCandorCompressing(place('candor', candorPort)) },
      nginx: { port: nginxPort, proc: await startNginxCompressing(place('nginx', nginxPort)) },
    };
    running.push(proxies.candor.proc, proxies.nginx.proc);
    const roots = () => running.map((proc) => proc.pid);
    const expected = jsonText(LARGE_SIZE);

    const measured = new Map<string, Measured>();
    for (const c of CASES) {
      const bodyBytes = await probe(proxies[c.system].port, c, expected);
      measured.set(c.id, { rps: [], cpuUs: [], p99Ms: [], foreign: [], errors: 0, bodyBytes });
    }
    const scripts = new Map(CASES.map((c) => [c.id, writeScript(dir, scenarioOf(c, options.connections))]));
    const once = async (c: Case, seconds: number) => {
      const { port, proc } = proxies[c.system];
      const scenario = scenarioOf(c, options.connections);
      const script = scripts.get(c.id) as string;
      const cpuBefore = treeCpuSeconds(proc.pid);
      const before = cpuSnapshot(roots());
      const result = await runWrk({ cpu: LOAD_CPU, port, scenario, script, seconds });
      const foreign = foreignShare(before, cpuSnapshot(roots()), seconds);
      const cpuUs = ((treeCpuSeconds(proc.pid) - cpuBefore) * 1e6) / Math.max(1, result.requests);
      return { result, foreign, cpuUs };
    };
    if (options.warmup > 0) {
      log(`warm-up, ${options.warmup} s per case`);
      for (const c of CASES) await once(c, options.warmup);
    }
    for (let round = 0; round < options.rounds; round++) {
      const order = CASES.map((_, i) => CASES[(i + round) % CASES.length]);
      for (const c of order) {
        const { result, foreign, cpuUs } = await once(c, options.seconds);
        const m = measured.get(c.id) as Measured;
        m.rps.push(result.rps);
        m.cpuUs.push(cpuUs);
        m.p99Ms.push(result.p99Ms);
        m.foreign.push(foreign);
        m.errors += result.socketErrors + result.non2xx;
        log(
          `round ${round + 1}/${options.rounds} ${c.id}: ${rps(result.rps)} req/s, ${Math.round(cpuUs)} µs CPU/request, other load ${percent(foreign)}`,
        );
      }
    }
    process.stdout.write(report(options, measured));
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(options: Options, measured: ReadonlyMap<string, Measured>): string {
  const get = (id: string) => measured.get(id) as Measured;
  const med = (values: readonly number[]) => spread(values).median;
  const range = (s: Spread) => `${rps(s.min)}–${rps(s.max)}`;
  let out =
    `\nGET 64 KiB of JSON, wrk -t1 -c${options.connections} -d${options.seconds}s, ${options.rounds} rounds (median, min–max); ` +
    `one worker each on CPU ${PROXY_CPU}; gzip level ${GZIP_LEVEL} in both:\n\n` +
    '| case | req/s | min–max | CPU per request | p99 | body on the wire | errors |\n|---|--:|--:|--:|--:|--:|--:|\n';
  for (const c of CASES) {
    const m = get(c.id);
    const s = spread(m.rps);
    out +=
      `| ${c.label} | ${rps(s.median)} | ${range(s)} | ${Math.round(med(m.cpuUs))} µs | ` +
      `${med(m.p99Ms).toFixed(2)} ms | ${m.bodyBytes.toLocaleString('en-US')} B | ${m.errors} |\n`;
  }
  const line = (what: string, a: string, b: string) => {
    const x = get(a);
    const y = get(b);
    return `- ${what}: ${ratio(med(x.rps), med(y.rps))} req/s, ${ratio(med(x.cpuUs), med(y.cpuUs))} CPU per request\n`;
  };
  const foreign = CASES.flatMap((c) => get(c.id).foreign);
  out += '\nRatios of the medians:\n\n';
  out += line('gzip, Candor ÷ nginx', 'candor-gzip', 'nginx-gzip');
  out += line('no compression, Candor ÷ nginx', 'candor-plain', 'nginx-plain');
  out += line(
    'a route that does not compress, Candor (compression configured, not accepted ÷ route without)',
    'candor-not-accepted',
    'candor-plain',
  );
  out += line('the same for nginx', 'nginx-not-accepted', 'nginx-plain');
  out += line('what gzip costs Candor (gzip ÷ route without)', 'candor-gzip', 'candor-plain');
  out += line('what gzip costs nginx', 'nginx-gzip', 'nginx-plain');
  out +=
    `\nCompressed body: Candor ${get('candor-gzip').bodyBytes.toLocaleString('en-US')} B, nginx ` +
    `${get('nginx-gzip').bodyBytes.toLocaleString('en-US')} B, of ${LARGE_SIZE.toLocaleString('en-US')} B.\n` +
    `Other load during the runs (CPU taken outside the benchmark, share of one core): median ` +
    `${percent(med(foreign))}, max ${percent(Math.max(...foreign))}.\n`;
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench compression: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
