import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often a process looks whether it went idle: the window its CPU use is measured over. */
const CHECK_MS = 5_000;
/** A window in which the process used the CPU more than this share of the time was busy… */
const BUSY = 0.05;
/** …and one below this share, idle. */
const IDLE = 0.01;

/**
 * V8's collector, without exposing `gc` to every module (the flag alone would): a function
 * made in a context of its own. Asked for a "last resort" collection (as under memory
 * pressure), V8 compacts the old generation and shrinks the young one to its floor. Under load
 * a worker's young generation grows to its cap (two 8 MB semi-spaces, workers.ts) and V8 keeps
 * it resident once the load is gone: about 16 MB of a worker's RSS, and the old generation's
 * emptied pages with it. A pause of tens of milliseconds, taken only while nothing runs.
 */
function collector(): (options: { type: 'major'; flavor: 'last-resort' }) => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

/** A point to measure the CPU used since: the process's CPU time and its age then. */
interface CpuMark {
  readonly cpu: NodeJS.CpuUsage;
  readonly uptime: number;
}

const cpuMark = (): CpuMark => ({ cpu: process.cpuUsage(), uptime: process.uptime() });

/**
 * The share of the time since `mark` this process used a CPU for: what the event loop's
 * utilisation tells about busy and idle, without node:perf_hooks, which the primary would load
 * for this alone (about half a MiB; test/server/cli/lean-processes.test.ts).
 */
function cpuShare(mark: CpuMark): number {
  const { user, system } = process.cpuUsage(mark.cpu);
  const elapsedUs = (process.uptime() - mark.uptime) * 1e6;
  return elapsedUs <= 0 ? 0 : (user + system) / elapsedUs;
}

/**
 * A process that was busy and went idle (it used the CPU under 1% of a 5 s window after a
 * window over 5%, or after it started) gives back what the load grew, once per busy → idle
 * turn: after a burst or a benchmark a worker returns near its idle size. Returns the stop.
 */
export function trimWhenIdle(windowMs = CHECK_MS): () => void {
  const gc = collector();
  let last = cpuMark();
  // Starting (the modules, the config, the first connections) is work too: the first idle
  // window after it gives back what it grew.
  let busy = true;
  const timer = setInterval(() => {
    const share = cpuShare(last);
    last = cpuMark();
    if (share > BUSY) busy = true;
    else if (busy && share < IDLE) {
      busy = false;
      gc({ type: 'major', flavor: 'last-resort' });
    }
  }, windowMs);
  timer.unref();
  return () => clearInterval(timer);
}
