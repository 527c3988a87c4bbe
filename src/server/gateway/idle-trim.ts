/** How often a process looks whether it went idle: the window its CPU use is measured over. */
const CHECK_MS = 1_000;
/** A window in which the process used the CPU more than this share of the time was busy… */
const BUSY = 0.05;
/** …and one below this share, idle. */
const IDLE = 0.01;
/**
 * Idle windows in a row after a load before the trim: one second, so that a worker is back near
 * its idle size when a run ends (issue 61: 83 MiB 3 s after the bench's load, 112 kept). What a
 * trim costs the next burst, and what was done about it:
 * - The shapes (V8 maps) of the requests' objects, which only the objects hold: a full collection
 *   in a lull took them and deoptimized the code made for them, and the burst after compiled
 *   429–499 functions (172 untrimmed). The runtime keeps its last request logged
 *   (request-session.ts): 145–194.
 * - The young generation, shrunk to its floor: it grew back in doublings, each only once the
 *   scavenges' survivors outgrew it, the in-flight requests' objects promoted meanwhile. A worker's
 *   young generation now grows back to its cap in one step (worker-flags.ts).
 * - What is left, some 2–6 % of the next burst's throughput at 50 connections: `bench/run.ts`
 *   with candor against candor-ref (the code with the five-minute wait), 3 runs of 6 s each: 42.6k
 *   req/s against 45.5k with a trim before each run, 45.9k against 46.5k with the growth factor
 *   alone. Not found (docs/data-path.md), and the reason for BURSTY_WINDOWS.
 * Starting is trimmed after one window too.
 */
const QUIET_WINDOWS = 1;
/**
 * A load back within this many windows of the last trim after a load (a minute) says the traffic
 * comes in bursts: the next trim waits for as many quiet windows, and the bursts keep the memory
 * through their lulls rather than pay the trim each time. A minute without load, and the next
 * trim is prompt again. With it, in the same comparison: 43.8k against 44.9k (medians of 5 runs:
 * only the first after a trim ran trimmed).
 */
const BURSTY_WINDOWS = 60;

/**
 * V8's collector, without exposing `gc` to every module (the flag alone would): a function
 * made in a context of its own. Asked for a "last resort" collection (as under memory
 * pressure), V8 compacts the old generation and shrinks the young one to its floor. Under load
 * a worker's young generation grows to its cap (two 16 MB semi-spaces, worker-flags.ts) and V8
 * keeps it resident once the load is gone: up to 32 MB of a worker's RSS, and the old generation's
 * emptied pages with it. Only such a collection gives the pages back: after a few quiet
 * seconds an ordinary one (minor or major) shrinks the young generation too, but V8 keeps the
 * pages in a pool of its own, resident. A pause of tens of milliseconds, taken only while nothing
 * runs.
 *
 * The cluster primary is started with `--expose-gc` (bin/candor.js, PRIMARY_V8_FLAGS): its
 * `gc` is taken off the global here, and neither node:v8 nor node:vm nor a second context is
 * made for it. Those are about 0.5 MiB of the idle primary's 50 (the binary's pages a new
 * context and node:v8 touch; docs/benchmarks-memory.md).
 */
function collector(): (options: { type: 'major'; flavor: 'last-resort' }) => void {
  const exposed = globalThis.gc;
  if (exposed !== undefined) {
    // (Not configurable: it cannot be deleted, only overwritten.)
    globalThis.gc = undefined;
    return exposed as (options: { type: 'major'; flavor: 'last-resort' }) => void;
  }
  process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
  return process.getBuiltinModule('node:vm').runInNewContext('gc');
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
 * A process that was busy and went idle (it used the CPU under 1% of `quietWindows` windows of
 * `windowMs` in a row after a window over 5%, or after it started) gives back what the load grew,
 * once per busy → idle turn: a second or two after a burst or a benchmark a worker is back near
 * its idle size. A load back within `burstyWindows` of such a trim makes the next one wait
 * `burstyWindows` quiet windows (the start's trim does not count). Returns the stop.
 */
export function trimWhenIdle(
  windowMs = CHECK_MS,
  quietWindows = QUIET_WINDOWS,
  burstyWindows = BURSTY_WINDOWS,
): () => void {
  const gc = collector();
  let last = cpuMark();
  // Starting (the modules, the config, the first connections) is work too: the first idle
  // window after it gives back what it grew.
  let busy = true;
  let needed = 1;
  let quiet = 0;
  /** Windows since the last trim after a load (none yet: past any bound). */
  let sinceTrim = Number.POSITIVE_INFINITY;
  let started = false;
  const timer = setInterval(() => {
    const share = cpuShare(last);
    last = cpuMark();
    sinceTrim++;
    if (share > BUSY) {
      // A load's first busy window (or the start's): one back soon after a trim is a burst among others.
      if (!busy || !started) needed = sinceTrim <= burstyWindows ? burstyWindows : quietWindows;
      busy = true;
      quiet = 0;
    } else if (share >= IDLE) quiet = 0;
    else if (busy && ++quiet >= needed) {
      busy = false;
      quiet = 0;
      if (started) sinceTrim = 0;
      started = true;
      gc({ type: 'major', flavor: 'last-resort' });
      // The collection's own 50–110 ms is no load: counted, it could make the next window busy and
      // the trim run again (with 1 s windows it did, a second later).
      last = cpuMark();
    }
  }, windowMs);
  timer.unref();
  return () => clearInterval(timer);
}
