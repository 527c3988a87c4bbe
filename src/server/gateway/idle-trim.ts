/** How often a process looks whether it went idle: the window its CPU use is measured over. */
const CHECK_MS = 1_000;
/** A window in which the process used the CPU more than this share of the time was busy… */
const BUSY = 0.05;
/** …and one below this share, idle. */
const IDLE = 0.01;
/**
 * Idle windows in a row after a load before the trim: one second, so that a worker is back near
 * its idle size at the end of a load (issue 61: by the end of the run), not minutes later. What a
 * trim costs the burst after it:
 * - The shapes (V8 maps) of the requests' objects, which only the objects hold: a full collection
 *   in a lull took them and deoptimized the code made for them, and the burst after compiled
 *   429–499 functions (172 untrimmed). The runtime keeps its last request logged
 *   (request-session.ts): 145–194.
 * - The young generation, shrunk to its floor, grows back in doublings under the burst:
 *   `--semi-space-growth-factor=16` grows it back in one step (2.5–3.3 µs of CPU a request more
 *   than warm in the 6 s after a trim at 200 connections, 0.8–1.2 with it), but a worker that only
 *   ever has light traffic then holds its young generation at the cap (109 MiB against 95).
 * - And with both, still some 5–9 % more CPU a request for the next 12 s, 2–4 % after, and its
 *   p99 (in `bench/run.ts`, every Candor run after a trim: 0.89× the node:net ceiling at 50
 *   connections against 0.97×, p99 4.2 ms against 2.7, 13.9 in one run; docs/data-path.md). Part
 *   of it is a marking cycle under the burst, the old generation's limit set from its live size by
 *   the trim.
 * So traffic that comes back soon after a trim (a cron, a batch, a retrying client, a benchmark's
 * alternated runs) would pay that at every burst for memory it gave back for seconds: a burst
 * within SOON_MS of a trim makes the next trim wait PATIENT_WINDOWS (five minutes of quiet say
 * the load is gone), and a burst that comes later (the last trim was worth it) makes it quick again.
 * Starting is trimmed after one window (no burst follows it that the trim could slow), and is no
 * trim of a load's: the first load after it, however soon, is trimmed quickly.
 */
const QUICK_WINDOWS = 1;
/** The wait after a trim that a burst followed too soon: five minutes. */
const PATIENT_WINDOWS = 300;
/** A burst this soon after a trim says the traffic comes in bursts: the next trim is patient. */
const SOON_MS = 60_000;

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

/**
 * The CPU time of the main thread: what runs requests. The whole process's (`cpuUsage`) counts
 * V8's helper threads too, and those go on sweeping for a while after a trim's collection: with
 * a large heap, longer than a window, which then came out busy and the trim ran again for a load
 * that was its own. (`threadCpuUsage` came in Node 22.19, the whole process's before it.)
 */
const threadCpu = (previous?: NodeJS.CpuUsage): NodeJS.CpuUsage =>
  typeof process.threadCpuUsage === 'function'
    ? process.threadCpuUsage(previous)
    : process.cpuUsage(previous);

/** A point to measure the CPU used since: the main thread's CPU time and the process's age then. */
interface CpuMark {
  readonly cpu: NodeJS.CpuUsage;
  readonly uptime: number;
}

const cpuMark = (): CpuMark => ({ cpu: threadCpu(), uptime: process.uptime() });

/**
 * The share of the time since `mark` the main thread used a CPU for: what the event loop's
 * utilisation tells about busy and idle, without node:perf_hooks, which the primary would load
 * for this alone (about half a MiB; test/server/cli/lean-processes.test.ts).
 */
function cpuShare(mark: CpuMark): number {
  const { user, system } = threadCpu(mark.cpu);
  const elapsedUs = (process.uptime() - mark.uptime) * 1e6;
  return elapsedUs <= 0 ? 0 : (user + system) / elapsedUs;
}

/**
 * A process that was busy and went idle (it used the CPU under 1% of `quick` windows of
 * `windowMs` in a row after a window over 5%; of one window after it started) gives back what the
 * load grew, once per busy → idle turn: a second after a burst or a benchmark a worker is back near
 * its idle size. A burst within `soonMs` of such a trim makes the next one wait `patient` windows
 * (bursts that keep coming keep their warm code), a later one `quick` again. Returns the stop.
 */
export function trimWhenIdle(
  windowMs = CHECK_MS,
  quick = QUICK_WINDOWS,
  patient = PATIENT_WINDOWS,
  soonMs = SOON_MS,
): () => void {
  const gc = collector();
  let last = cpuMark();
  // Starting (the modules, the config, the first connections) is work too: the first idle
  // window after it gives back what it grew.
  let busy = true;
  let needed = 1;
  let quiet = 0;
  let wait = quick;
  // When the last trim of a load's ran (process.uptime(), in ms): undefined until one has.
  let trimmedAt: number | undefined;
  // A window past the first was busy: a load came (the first window holds what starting left).
  let loaded = false;
  let first = true;
  // The window after a trim is judged neither busy nor quiet: the next check is due a window
  // after the one that trimmed began, and the collection took part of that window, or more than
  // all of it. What is left of it is too short to judge.
  let settling = false;
  const timer = setInterval(() => {
    const share = cpuShare(last);
    last = cpuMark();
    const firstWindow = first;
    first = false;
    if (settling) settling = false;
    else if (share > BUSY) {
      // The first busy window after a trim: did the trim give memory back for long enough?
      if (!busy && trimmedAt !== undefined)
        wait = process.uptime() * 1000 - trimmedAt < soonMs ? patient : quick;
      if (!firstWindow) loaded = true;
      busy = true;
      needed = wait;
      quiet = 0;
    } else if (share >= IDLE) quiet = 0;
    else if (busy && ++quiet >= needed) {
      busy = false;
      quiet = 0;
      gc({ type: 'major', flavor: 'last-resort' });
      if (loaded) trimmedAt = process.uptime() * 1000;
      // The collection's own 50–110 ms is no load: counted, it could make the next window busy and
      // the trim run again (with 1 s windows it did, a second later).
      last = cpuMark();
      settling = true;
    }
  }, windowMs);
  timer.unref();
  return () => clearInterval(timer);
}
