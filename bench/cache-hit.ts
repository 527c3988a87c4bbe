/**
 * The cache-hit scenario: `node bench/cache-hit.ts [--seconds N] [--rounds N] [--connections N] [--warmup N] [--workers N]`
 * (`npm run bench:cache -- …`). What a stored answer costs against a proxied one, and against
 * nginx's `proxy_cache`:
 *
 * - Candor, one worker (or `--workers N`: then the workers share one cache), `GET /cached` on a route with `cache: {}` (every request a hit after the
 *   first), and `GET /small` on a route without one (proxied to the origin): the same process;
 * - nginx, one worker (or `--workers N`), `GET /cached` through `proxy_cache` (keys in a shared-memory zone, bodies
 *   on tmpfs: /dev/shm where there is one, so a hit is served from memory), and `GET /small`
 *   proxied.
 *
 * Both answer 100 bytes; access logs on (to a file) for both. The proxies on CPU 0, wrk (one
 * thread, keep-alive) and the nginx origin on CPU 1; rounds alternated, the median reported, and
 * each hit's ratio to nginx's hit and to Candor's own proxied figure (the targets: ≥ 0.5×
 * nginx, and above proxied). Each hit row is checked to be one first (its Cache-Status: Candor's
 * `hit`, nginx's `$upstream_cache_status` HIT). Prints a table; writes nothing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runAlternated } from './alternated-rows.ts';
import { wholeNumbers } from './flags.ts';
import { startOrigin } from './origin.ts';
import { openDir, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { spread } from './stats.ts';
import { candorYaml, type ProxyPlace, startCandor, startNginxProxy } from './systems.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';

interface CacheOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  /** Seconds of load per row before the rounds, not counted (the JIT warms, the pools fill). */
  readonly warmup: number;
  /** Worker processes of each proxy (the same count for both): they share the proxy's CPU. */
  readonly workers: number;
}

function parse(argv: readonly string[]): CacheOptions {
  return wholeNumbers(
    argv,
    { seconds: 10, rounds: 3, connections: 50, warmup: 5, workers: 1 },
    'usage: node bench/cache-hit.ts [--seconds N] [--rounds N] [--connections N] [--warmup N] [--workers N]',
  );
}

/** Candor, one worker: `/cached` on a route with `cache: {}`, the rest proxied. */
function startCandorCache(place: ProxyPlace, workers: number): Promise<PinnedProcess> {
  return startCandor(
    place,
    candorYaml(place, {
      routes: `  - name: cached
    match: { path: /cached }
    upstream: origin
    cache: {}
  - name: proxied
    match: { path: / }
    upstream: origin
`,
    }),
    { workers },
  );
}

/** nginx's proxy_cache: keys in the `hits` shared-memory zone, bodies on tmpfs where there is one. */
function startNginxCache(place: ProxyPlace, cacheDir: string, workers: number): Promise<PinnedProcess> {
  return startNginxProxy(
    place,
    `  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=hits:10m max_size=64m inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:${place.port} backlog=4096;
    location = /cached {
      proxy_cache hits;
      proxy_cache_lock on;
      add_header Cache-Status $upstream_cache_status;
      proxy_pass http://origin;
    }
    location / { proxy_pass http://origin; }
  }`,
    workers,
  );
}

/** A GET, tried again for a few seconds while the proxy settles (a listening port is not yet a working pool). */
async function fetchOnce(url: string): Promise<Response> {
  for (let tries = 0; ; tries++) {
    try {
      return await fetch(url);
    } catch (err) {
      if (tries >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** A first GET stores the answer; the second must be a hit (its Cache-Status says so), or the hit rows would measure misses. */
async function prime(port: number, path: string, hit: RegExp): Promise<void> {
  for (const round of ['store', 'hit']) {
    const res = await fetchOnce(`http://127.0.0.1:${port}${path}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${path} on ${port}: ${res.status}`);
    const status = res.headers.get('cache-status') ?? '';
    if (round === 'hit' && !hit.test(status))
      throw new Error(`GET ${path} on ${port} was no hit: "${status}"`);
  }
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const dir = runDir('candor-bench-cache-');
  const cacheDir = existsSync('/dev/shm')
    ? mkdtempSync('/dev/shm/candor-bench-cache-')
    : join(dir, 'nginx-cache');
  const running: PinnedProcess[] = [];
  try {
    const [originPort, candorPort, nginxPort] = await freePorts(3);
    for (const sub of ['origin', 'candor', 'nginx']) openDir(join(dir, sub));
    running.push(await startOrigin(join(dir, 'origin'), originPort, LOAD_CPU));
    const place = (sub: string, port: number) => ({ dir: join(dir, sub), port, originPort, cpu: PROXY_CPU });
    running.push(await startCandorCache(place('candor', candorPort), options.workers));
    // A path nginx makes itself, so its workers (another user, when it runs as root) own it.
    const nginx = await startNginxCache(
      place('nginx', nginxPort),
      join(openDir(cacheDir), 'zone'),
      options.workers,
    );
    running.push(nginx);
    await prime(candorPort, '/cached', /; hit;/);
    await prime(nginxPort, '/cached', /^HIT$/);
    const rows = await runAlternated(
      [
        { label: 'Candor, cache hit', port: candorPort, pid: running[1].pid, path: '/cached' },
        { label: 'Candor, proxied', port: candorPort, pid: running[1].pid, path: '/small' },
        { label: 'nginx proxy_cache, hit', port: nginxPort, pid: nginx.pid, path: '/cached' },
        { label: 'nginx, proxied', port: nginxPort, pid: nginx.pid, path: '/small' },
      ],
      {
        dir,
        cpu: LOAD_CPU,
        connections: options.connections,
        seconds: options.seconds,
        rounds: options.rounds,
        warmup: options.warmup,
        bench: 'cache',
      },
    );
    const median = (i: number) => spread(rows[i].runs.map((r) => r.rps)).median;
    const [candorHit, candorProxied, nginxHit] = [median(0), median(1), median(2)];
    process.stdout.write(
      `\nwrk -t1 -c${options.connections} -d${options.seconds}s, 100-byte answers, ${options.workers} worker(s) each, ` +
        `${options.rounds} rounds, median:\n\n| system | req/s | p99 ms | × nginx hit | × Candor proxied | CPU µs/request | non-2xx |\n|---|--:|--:|--:|--:|--:|--:|\n`,
    );
    for (const [i, row] of rows.entries()) {
      const rps = median(i);
      const p99 = spread(row.runs.map((r) => r.p99Ms)).median;
      const bad = row.runs.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0);
      const cpu = spread(row.cpuUs).median;
      process.stdout.write(
        `| ${row.label} | ${Math.round(rps).toLocaleString('en-US')} | ${p99.toFixed(2)} | ${(rps / nginxHit).toFixed(2)}× | ${(rps / candorProxied).toFixed(2)}× | ${cpu.toFixed(1)} | ${bad} |\n`,
      );
    }
    process.stdout.write(
      `\nCandor's hit: ${(candorHit / nginxHit).toFixed(2)}× nginx's (target ≥ 0.5×), ` +
        `${(candorHit / candorProxied).toFixed(2)}× its own proxied figure (target > 1×).\n`,
    );
  } finally {
    for (const proc of running.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench cache: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
