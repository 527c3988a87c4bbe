/**
 * The tail after a lull: `node bench/lull.ts [--seconds N] [--lull N] [--lulls N] [--connections N]
 * [--ref DIR]`. Candor (one worker on CPU 0, bench/candor.ts's config) under `wrk -t1`
 * (`--connections`, 200) for two windows of `--seconds` (10) once warm, then, `--lulls` times
 * (3), idle for `--lull` seconds (16, as long as Candor waits between its repetitions in
 * bench/run.ts) and two windows more. For each window: requests a second, p50, p99, the CPU time
 * Candor's processes took a request (utime + stime from /proc: a figure the machine's other load
 * moves far less than it moves p99), and the worker's RSS when it began. With `--ref DIR`, the
 * same for the checkout at DIR (a `git worktree` of an earlier commit with its own node_modules)
 * in the same run, before this one.
 * A p99 that doubles in the first window after each lull is a cold start the lull caused
 * (src/server/gateway/idle-trim.ts). Prints a table; writes nothing.
 */
import { rmSync, truncateSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { candorConfig } from './candor.ts';
import { wholeNumbers } from './flags.ts';
import { treeCpuSeconds } from './noise.ts';
import { startOrigin } from './origin.ts';
import { openDir, REPO_DIR, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { processTree, statusKiB } from './rss.ts';
import { SCENARIOS } from './scenarios.ts';
import { startCandor } from './systems.ts';
import { runWrk, writeScript } from './wrk.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';
const USAGE =
  'usage: node bench/lull.ts [--seconds N (10)] [--lull N (16)] [--lulls N (3)] [--connections N (200)] [--ref DIR]';

const argv = process.argv.slice(2);
const refAt = argv.indexOf('--ref');
const ref = refAt === -1 ? undefined : resolve(argv[refAt + 1] ?? '');
if (refAt !== -1 && argv[refAt + 1] === undefined) throw new Error(USAGE);
const options = wholeNumbers(
  refAt === -1 ? argv : [...argv.slice(0, refAt), ...argv.slice(refAt + 2)],
  { seconds: 10, lull: 16, lulls: 3, connections: 200 },
  USAGE,
);

interface Window {
  readonly checkout: string;
  readonly when: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU µs (user + system, the primary's and the worker's) a request. */
  readonly cpuUs: number;
  readonly rssMiB: number;
}

/** One checkout's windows: warm, then after each lull. */
async function measure(
  checkout: string,
  repoDir: string,
  dir: string,
  originPort: number,
): Promise<Window[]> {
  const [port, deadPort] = await freePorts(2);
  const place = { dir: openDir(join(dir, checkout)), port, originPort, deadPort, workers: 1, cpu: PROXY_CPU };
  // A first start writes the compile cache (memory.ts says why): the one measured reads it.
  await (await startCandor(place, candorConfig(place), { repoDir })).stop();
  const proc: PinnedProcess = await startCandor(place, candorConfig(place), { repoDir });
  const base = SCENARIOS.find((s) => s.id === 'small-c200');
  if (base === undefined) throw new Error('no scenario small-c200');
  const scenario = { ...base, connections: options.connections };
  const script = writeScript(place.dir, scenario);
  const worker = () => processTree(proc.pid)[1] ?? proc.pid;
  const windows: Window[] = [];
  const window = async (when: string) => {
    const rssMiB = statusKiB(worker(), 'VmRSS') / 1024;
    const cpu = treeCpuSeconds(proc.pid);
    const run = await runWrk({ cpu: LOAD_CPU, port, scenario, script, seconds: options.seconds });
    const cpuUs = ((treeCpuSeconds(proc.pid) - cpu) * 1e6) / Math.max(1, run.requests);
    windows.push({ checkout, when, rps: run.rps, p50Ms: run.p50Ms, p99Ms: run.p99Ms, cpuUs, rssMiB });
  };
  try {
    await runWrk({ cpu: LOAD_CPU, port, scenario, script, seconds: 5 }); // warm-up, not counted
    await window('warm');
    await window('warm');
    for (let lull = 1; lull <= options.lulls; lull++) {
      truncateSync(join(place.dir, 'access.log'));
      await sleep(options.lull * 1000);
      await window(`after lull ${lull}, first`);
      await window(`after lull ${lull}, second`);
    }
    return windows;
  } finally {
    await proc.stop();
  }
}

const dir = runDir('candor-bench-lull-');
let origin: PinnedProcess | undefined;
try {
  const [originPort] = await freePorts(1);
  origin = await startOrigin(openDir(join(dir, 'origin')), originPort, LOAD_CPU);
  const windows: Window[] = [];
  if (ref !== undefined) windows.push(...(await measure('ref', ref, dir, originPort)));
  windows.push(...(await measure('this', REPO_DIR, dir, originPort)));
  process.stdout.write(
    `candor serve --workers 1 (bench/candor.ts's config) on CPU ${PROXY_CPU}; wrk -t1 -c${options.connections}, ${options.seconds} s windows, lulls of ${options.lull} s${
      ref === undefined ? '' : `; ref: ${ref}`
    }\n\n| checkout | window | req/s | p50 ms | p99 ms | CPU µs a request | worker RSS MiB at its start |\n|---|---|--:|--:|--:|--:|--:|\n`,
  );
  for (const w of windows)
    process.stdout.write(
      `| ${w.checkout} | ${w.when} | ${Math.round(w.rps)} | ${w.p50Ms.toFixed(1)} | ${w.p99Ms.toFixed(1)} | ${w.cpuUs.toFixed(1)} | ${w.rssMiB.toFixed(1)} |\n`,
    );
} finally {
  await origin?.stop();
  rmSync(dir, { recursive: true, force: true });
}
