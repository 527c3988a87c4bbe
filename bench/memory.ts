/**
 * What each process of `candor serve --workers 1` holds, idle and after load, in one command:
 *
 *   node bench/memory.ts [--seconds N] [--quick] [--ref=DIR]      (npm run bench:memory -- …)
 *
 * Starts the nginx origin (CPU 1) and Candor on the bench's config (bench/candor.ts: one
 * worker, a pool of up to 1024, the access log at info to a file; CPU 0; a warm start, its compile
 * cache written by a start before), then reads
 * /proc/PID/smaps_rollup of its primary and its worker: idle (12 s after it listens), and after
 * load (wrk -t1 -c50, then -c200, `--seconds` each (10)): at the end of the run (3 s after the load,
 * END_OF_RUN_MS says why), 12 s and 5 min 10 s after it (`--quick`: not the last). Each figure is RSS,
 * the process's own part (private pages: its heap, code, buffers) and the part shared with
 * other processes (the node binary's pages, held once however many processes map them). The
 * peak (VmHWM) is the most each held at once, under the load. The floor beside them: an empty Node process (`node -e`) on this machine. `--ref=DIR` measures
 * the checkout in DIR the same way in the same run (e.g. an earlier commit as a git worktree:
 * before → after). Prints a table; writes nothing. Memory does not depend on the machine's
 * load as throughput does, but the load run's request count does, a little.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { candorConfig } from './candor.ts';
import { startOrigin } from './origin.ts';
import { NODE_BIN, openDir, REPO_DIR, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { processTree, type ResidentParts, residentParts, statusKiB } from './rss.ts';
import { SCENARIOS } from './scenarios.ts';
import { startCandor } from './systems.ts';
import { runWrk, writeScript } from './wrk.ts';

/** The rest after the start before the idle reading: past two of idle-trim.ts's 5 s windows (a start is trimmed after one). */
const REST_MS = 12_000;
/**
 * The rest after the load before the reading issue 61's target is about ("a worker ≤ 90 MiB … at
 * the end of the run"): what a benchmark leaves once its load stops. Three seconds: the requests
 * in flight are done and wrk's connections closed (the pool's upstream connections stay until
 * their idle_timeout), and nothing a quiet process does later has run yet: idle-trim.ts looks
 * every 5 s, V8's memory reducer (off in the workers) would start 8 s into a lull.
 */
const END_OF_RUN_MS = 3_000;
/** The rest after the load before the last reading: past idle-trim.ts's five minutes of quiet windows, and two more. */
const AFTER_LOAD_REST_MS = 310_000;
const PROXY_CPU = '0';
const LOAD_CPU = '1';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    ref: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 1)
  throw new Error('usage: node bench/memory.ts [--seconds N] [--quick] [--ref=DIR]');

interface Row {
  readonly checkout: string;
  readonly process: string;
  readonly state: string;
  readonly parts: ResidentParts | undefined;
  /** VmHWM: the most the process held at once so far, MiB. */
  readonly peakMiB: number;
}

/** An empty Node process's memory: the floor under every process of Candor. */
async function nodeFloor(): Promise<{ parts: ResidentParts | undefined; peakMiB: number }> {
  const child = spawn(NODE_BIN, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
  await sleep(1000);
  const parts = residentParts(child.pid as number);
  const peakMiB = statusKiB(child.pid as number, 'VmHWM') / 1024;
  child.kill();
  return { parts, peakMiB };
}

/** The primary (the tree's root) and its worker, as they are now. */
function snapshot(checkout: string, proc: PinnedProcess, state: string): Row[] {
  const [primary, ...workers] = processTree(proc.pid);
  const row = (name: string, pid: number): Row => ({
    checkout,
    process: name,
    state,
    parts: residentParts(pid),
    peakMiB: statusKiB(pid, 'VmHWM') / 1024,
  });
  return [row('primary', primary), ...workers.map((pid) => row('worker', pid))];
}

async function measure(checkout: string, repoDir: string, dir: string, originPort: number): Promise<Row[]> {
  const [port, deadPort] = await freePorts(2);
  const place = { dir: openDir(join(dir, checkout)), port, originPort, deadPort, workers: 1, cpu: PROXY_CPU };
  // A first start compiles the sources into Node's compile cache (and loads the TypeScript
  // stripper to do it); every later start reads the cache: the one measured is such a start.
  await (await startCandor(place, candorConfig(place), { repoDir })).stop();
  const proc = await startCandor(place, candorConfig(place), { repoDir });
  try {
    await sleep(REST_MS);
    const rows = snapshot(checkout, proc, 'idle');
    let requests = 0;
    for (const id of ['small-c50', 'small-c200']) {
      const scenario = SCENARIOS.find((s) => s.id === id);
      if (scenario === undefined) throw new Error(`no scenario ${id}`);
      const script = writeScript(place.dir, scenario);
      const run = await runWrk({ cpu: LOAD_CPU, port, scenario, script, seconds: SECONDS });
      requests += run.requests;
    }
    // What the load grew is held at the run's end and through a lull (12 s), and given back after
    // five minutes of idleness (src/server/gateway/idle-trim.ts).
    const done = `after ${requests.toLocaleString('en-US')} requests`;
    await sleep(END_OF_RUN_MS);
    rows.push(...snapshot(checkout, proc, `${done}, 3 s (end of run)`));
    await sleep(REST_MS - END_OF_RUN_MS);
    rows.push(...snapshot(checkout, proc, `${done}, 12 s`));
    if (values.quick) return rows;
    await sleep(AFTER_LOAD_REST_MS - REST_MS);
    rows.push(...snapshot(checkout, proc, `${done}, 5 min`));
    return rows;
  } finally {
    await proc.stop();
  }
}

const dir = runDir('candor-bench-memory-');
let origin: PinnedProcess | undefined;
try {
  const [originPort] = await freePorts(1);
  origin = await startOrigin(openDir(join(dir, 'origin')), originPort, LOAD_CPU);
  const rows: Row[] = [{ checkout: '–', process: 'node -e (empty)', state: 'idle', ...(await nodeFloor()) }];
  rows.push(...(await measure('this', REPO_DIR, dir, originPort)));
  if (values.ref !== undefined) rows.push(...(await measure('ref', resolve(values.ref), dir, originPort)));
  const mib = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));
  process.stdout.write(
    `candor serve --workers 1 (bench/candor.ts's config); load: wrk -t1 -c50 then -c200, ${SECONDS} s each${
      values.ref === undefined ? '' : `; ref: ${values.ref}`
    }\n\n| checkout | process | when | RSS MiB | own MiB | shared MiB | peak RSS MiB |\n|---|---|---|--:|--:|--:|--:|\n`,
  );
  for (const row of rows)
    process.stdout.write(
      `| ${row.checkout} | ${row.process} | ${row.state} | ${mib(row.parts?.rssMiB)} | ${mib(row.parts?.ownMiB)} | ${mib(row.parts?.sharedMiB)} | ${mib(row.peakMiB)} |\n`,
    );
} finally {
  await origin?.stop();
  rmSync(dir, { recursive: true, force: true });
}
