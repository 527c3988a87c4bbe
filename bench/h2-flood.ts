/**
 * What an HTTP/2 flood makes a worker hold: `node bench/h2-flood.ts [--kind reset|headers|stall|stall-1m]
 * [--seconds N] [--connections N]`. Candor (`serve --workers 1`, an h2c listener, access log to a
 * file, the default `limits.http2`) on CPU 0; the origin (bench/origin.ts) and the hostile client
 * (bench/h2-flood-client.ts, which says what each kind does) on CPU 1. The worker's VmRSS is
 * sampled every 100 ms: idle before, its peak during the flood, and 5 s after the client left.
 * Prints a table, with what the client saw and the gateway's `HTTP/2 bound passed` lines by
 * bound; writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOrigin } from './origin.ts';
import { BENCH_DIR, NODE_BIN, openDir, REPO_DIR, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import { type PinnedProcess, startPinned, waitForPort } from './process.ts';
import { processTree, sampleRss, treeRss } from './rss.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';
const KINDS = ['reset', 'headers', 'stall', 'stall-1m'];

function parse(argv: readonly string[]): { kind: string; seconds: number; connections: number } {
  const options = { kind: 'reset', seconds: 20, connections: 50 };
  const usage = `usage: node bench/h2-flood.ts [--kind ${KINDS.join('|')}] [--seconds N] [--connections N]`;
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1] ?? '';
    if (name === 'kind' && KINDS.includes(value)) options.kind = value;
    else if ((name === 'seconds' || name === 'connections') && /^[1-9]\d*$/.test(value))
      options[name] = Number(value);
    else throw new Error(usage);
  }
  return options;
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

/** The largest worker's VmRSS now, KiB. */
const workerKiB = (pid: number) => treeRss(processTree(pid)).workerKiB;

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const dir = runDir('candor-bench-h2-flood-');
  const running: PinnedProcess[] = [];
  try {
    const [originPort, port] = await freePorts(2);
    running.push(await startOrigin(openDir(join(dir, 'origin')), originPort, LOAD_CPU));
    const accessLog = join(dir, 'access.log');
    writeFileSync(
      join(dir, 'candor.yaml'),
      `name: bench
listen:
  - address: 127.0.0.1:${port}
    http2: true
routes:
  - upstream: origin
upstreams:
  origin:
    targets: [ { url: "http://127.0.0.1:${originPort}" } ]
log:
  level: info
  destination: ${accessLog}
`,
    );
    const candor = startPinned({
      cpu: PROXY_CPU,
      command: NODE_BIN,
      args: [
        join(REPO_DIR, 'bin', 'candor.js'),
        'serve',
        '--config',
        join(dir, 'candor.yaml'),
        '--workers',
        '1',
      ],
      cwd: REPO_DIR,
      env: { ...process.env, NODE_ENV: 'production' },
      outputFile: join(dir, 'output.log'),
    });
    running.push(candor);
    await waitForPort(port, candor, 20_000);
    await sleep(1000);
    const idle = workerKiB(candor.pid);
    const sampler = sampleRss(candor.pid);
    const client = execFileSync(
      'taskset',
      [
        ...['-c', LOAD_CPU, NODE_BIN, join(BENCH_DIR, 'h2-flood-client.ts')],
        ...[String(port), String(options.connections), String(options.seconds), options.kind],
      ],
      { encoding: 'utf8', timeout: (options.seconds + 30) * 1000 },
    );
    const peak = sampler.stop().peakWorkerRssKiB;
    await sleep(5000);
    const after = workerKiB(candor.pid);
    const bounds = new Map<string, number>();
    let requests = 0;
    for (const line of readFileSync(accessLog, 'utf8').split('\n')) {
      if (line.includes('"msg":"request"')) requests++;
      const bound = line.includes('HTTP/2 bound passed') ? /"bound":"(\w+)"/.exec(line)?.[1] : undefined;
      if (bound !== undefined) bounds.set(bound, (bounds.get(bound) ?? 0) + 1);
    }
    process.stdout.write(
      `\nh2 flood \`${options.kind}\`, ${options.connections} connections, ${options.seconds} s, candor serve -w 1 (worker VmRSS):\n\n` +
        `| idle | peak | 5 s after | client saw | access-log requests | bound lines |\n|--:|--:|--:|---|--:|---|\n` +
        `| ${mib(idle)} | ${mib(peak)} | ${mib(after)} | ${client.trim()} | ${requests} | ${JSON.stringify(Object.fromEntries(bounds))} |\n`,
    );
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench h2-flood: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
