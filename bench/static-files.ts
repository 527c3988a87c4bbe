/**
 * Static files against nginx: `node bench/static-files.ts [--seconds N] [--rounds N] [--connections N] [--warmup N] [--workers N]`.
 *
 * - Candor, `routes[].static` with its root in a private folder: `GET /files/small.txt` (100
 *   bytes) and `GET /files/large.bin` (64 KiB);
 * - nginx, `root` on the same folder with `sendfile on` (nginx.ts's main config), the same two
 *   files.
 *
 * One worker each unless `--workers` (the same count for both); access logs on (to a file) for
 * both. The servers on CPU 0, wrk (one thread, keep-alive) on CPU 1; rounds alternated, the
 * median reported, with each Candor row's ratio to nginx's row for the same file and each
 * server's CPU per request (its process tree, from /proc). Each row is checked first to answer
 * 200 with the file's length. Prints a table; writes nothing.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAlternated } from './alternated-rows.ts';
import { wholeNumbers } from './flags.ts';
import { nginxMain, startNginx } from './nginx.ts';
import { openDir, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import { type PinnedProcess, waitForPort } from './process.ts';
import { spread } from './stats.ts';
import { candorYaml, startCandor } from './systems.ts';

const SERVER_CPU = '0';
const LOAD_CPU = '1';

const FILES = [
  { path: '/files/small.txt', name: 'small.txt', bytes: 100 },
  { path: '/files/large.bin', name: 'large.bin', bytes: 64 * 1024 },
] as const;

interface StaticOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly warmup: number;
  readonly workers: number;
}

function parse(argv: readonly string[]): StaticOptions {
  return wholeNumbers(
    argv,
    { seconds: 10, rounds: 3, connections: 50, warmup: 5, workers: 1 },
    'usage: node bench/static-files.ts [--seconds N] [--rounds N] [--connections N] [--warmup N] [--workers N]',
  );
}

/** nginx serving `root` under /files/ (sendfile on, from nginxMain), its access log on. */
function nginxStatic(dir: string, port: number, root: string, workers: number): string {
  return nginxMain(
    dir,
    workers,
    `  access_log ${join(dir, 'access.log')} combined;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location /files/ { alias ${root}/; }
  }`,
  );
}

/** The file must come whole (status and length), or the row would measure an error page. */
async function check(port: number, path: string, bytes: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = await res.arrayBuffer();
  if (res.status !== 200 || body.byteLength !== bytes)
    throw new Error(`GET ${path} on ${port}: ${res.status}, ${body.byteLength} bytes (expected ${bytes})`);
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const dir = runDir('candor-bench-static-');
  const running: PinnedProcess[] = [];
  try {
    const root = openDir(join(dir, 'root'));
    for (const file of FILES) writeFileSync(join(root, file.name), Buffer.alloc(file.bytes, 'x'));
    const [candorPort, nginxPort, unused] = await freePorts(3);
    for (const sub of ['candor', 'nginx']) mkdirSync(join(dir, sub), { recursive: true });
    const candor = await startCandor(
      { dir: join(dir, 'candor'), port: candorPort, cpu: SERVER_CPU },
      candorYaml(
        { dir: join(dir, 'candor'), port: candorPort, originPort: unused },
        {
          routes: `  - name: files
    match: { path: /files }
    static: { root: ${root} }
`,
        },
      ),
      { workers: options.workers },
    );
    running.push(candor);
    const nginxDir = join(dir, 'nginx');
    const nginx = startNginx(nginxDir, nginxStatic(nginxDir, nginxPort, root, options.workers), SERVER_CPU);
    running.push(nginx);
    await waitForPort(nginxPort, nginx, 10_000);
    for (const file of FILES) {
      await check(candorPort, file.path, file.bytes);
      await check(nginxPort, file.path, file.bytes);
    }
    const rows = await runAlternated(
      FILES.flatMap((file) => [
        { label: `Candor, ${file.bytes} B`, port: candorPort, pid: candor.pid, path: file.path },
        { label: `nginx, ${file.bytes} B`, port: nginxPort, pid: nginx.pid, path: file.path },
      ]),
      {
        dir,
        cpu: LOAD_CPU,
        connections: options.connections,
        seconds: options.seconds,
        rounds: options.rounds,
        warmup: options.warmup,
        bench: 'static',
      },
    );
    const median = (i: number) => spread(rows[i].runs.map((r) => r.rps)).median;
    process.stdout.write(
      `\nwrk -t1 -c${options.connections} -d${options.seconds}s, ${options.workers} worker(s) each, ` +
        `${options.rounds} rounds, median:\n\n| system | req/s | p99 ms | × nginx | CPU µs/request | non-2xx |\n|---|--:|--:|--:|--:|--:|\n`,
    );
    for (const [i, row] of rows.entries()) {
      const rps = median(i);
      // Rows go in pairs (Candor, nginx) for one file: each is compared with its file's nginx row.
      const nginxRps = median(i % 2 === 0 ? i + 1 : i);
      const p99 = spread(row.runs.map((r) => r.p99Ms)).median;
      const bad = row.runs.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0);
      process.stdout.write(
        `| ${row.label} | ${Math.round(rps).toLocaleString('en-US')} | ${p99.toFixed(2)} | ${(rps / nginxRps).toFixed(2)}× | ${spread(row.cpuUs).median.toFixed(1)} | ${bad} |\n`,
      );
    }
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench static: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
