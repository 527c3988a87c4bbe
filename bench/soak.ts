/**
 * The memory soak: Candor alone (one worker, on the proxy CPU) under small-c200 for minutes,
 * its worker's VmRSS sampled every second. The targets are "under 100 MB per worker" and "flat
 * (within 10%) across a 5-minute run": a leak is a slope, which the 10 s runs cannot show.
 */
import { truncateSync } from 'node:fs';
import { cpuSnapshot, foreignShare } from './noise.ts';
import type { BenchOptions } from './options.ts';
import { processTree, treeRss } from './rss.ts';
import { SCENARIOS, type Scenario } from './scenarios.ts';
import type { RunningSystem } from './systems.ts';
import { runWrk, type WrkResult } from './wrk.ts';

/** The scenario the soak runs: the most connections, the most memory. */
export const SOAK_SCENARIO = 'small-c200';
/** The per-worker target: 100 MB (10^8 bytes), in KiB. */
export const WORKER_TARGET_KIB = 100e6 / 1024;
/** "Flat": every sample from the reference on within this share of the reference sample. */
export const FLAT_SHARE = 0.1;

export interface SoakSample {
  /** Seconds since wrk started. */
  readonly atS: number;
  /** VmRSS of the largest worker, KiB (with one worker, the one Candor process). */
  readonly workerKiB: number;
  /** VmRSS summed over the process tree, KiB. */
  readonly totalKiB: number;
}

export interface SoakResult {
  readonly seconds: number;
  readonly scenario: string;
  readonly samples: readonly SoakSample[];
  readonly run: WrkResult | undefined;
  /** CPU others took over the soak, as a share of one core (see noise.ts). */
  readonly foreign: number | undefined;
  readonly error: string | undefined;
}

/** The soak as run, or why it was not. */
export type SoakOutcome = SoakResult | { readonly skipped: string };

/** What the soak runs given the options, or why it does not run. */
export function planSoak(
  options: BenchOptions,
): { readonly scenario: Scenario; readonly seconds: number } | { readonly skipped: string } {
  if (options.soak === undefined)
    return {
      skipped: options.quick ? 'left out by --quick (add --soak-duration=S)' : 'skipped with --no-soak',
    };
  if (!options.only.includes('candor')) return { skipped: 'Candor is not among --only' };
  return { scenario: SCENARIOS.find((s) => s.id === SOAK_SCENARIO)!, seconds: options.soak };
}

/** Runs `scenario` against `running` for `seconds`, sampling its memory every second. */
export async function runSoak(
  running: RunningSystem,
  scenario: Scenario,
  seconds: number,
  options: { readonly cpu: string; readonly script: string; readonly roots: () => number[] },
): Promise<SoakResult> {
  const pid = running.process!.pid;
  const samples: SoakSample[] = [];
  const started = Date.now();
  const timer = setInterval(() => {
    const atS = (Date.now() - started) / 1000;
    if (atS > seconds) return;
    const rss = treeRss(processTree(pid));
    samples.push({ atS, workerKiB: rss.workerKiB, totalKiB: rss.totalKiB });
    // Minutes of access log would fill the disk: empty it as the measured runs do.
    if (running.accessLog !== undefined && samples.length % 10 === 0) truncateSync(running.accessLog, 0);
  }, 1000);
  process.stderr.write(`bench: soak: candor under ${scenario.id} for ${seconds} s, RSS every second\n`);
  const before = cpuSnapshot(options.roots());
  try {
    const run = await runWrk({
      cpu: options.cpu,
      port: running.port,
      scenario,
      script: options.script,
      seconds,
    });
    const foreign = foreignShare(before, cpuSnapshot(options.roots()), seconds);
    const base = { seconds, scenario: scenario.id, samples, run, foreign, error: undefined };
    const exit = running.process?.exit;
    return exit === undefined ? base : { ...base, error: `failed: candor ${exit}` };
  } catch (err) {
    const error = `failed: ${err instanceof Error ? err.message : String(err)}`;
    return { seconds, scenario: scenario.id, samples, run: undefined, foreign: undefined, error };
  } finally {
    clearInterval(timer);
  }
}

export interface SoakSummary {
  /** When the reference sample was taken: 1 min, or a fifth of a soak shorter than 5 min. */
  readonly referenceAtS: number;
  readonly referenceKiB: number;
  readonly endKiB: number;
  readonly peakKiB: number;
  /** Lowest and highest sample from the reference on. */
  readonly lowKiB: number;
  readonly highKiB: number;
  /** (end − reference) / reference. */
  readonly change: number;
  /** Every sample from the reference on within FLAT_SHARE of the reference. */
  readonly flat: boolean;
  readonly underTarget: boolean;
}

/** The numbers of the report; undefined when too few samples were taken. */
export function summariseSoak(result: SoakResult): SoakSummary | undefined {
  const referenceAtS = Math.min(60, result.seconds / 5);
  const from = result.samples.findIndex((s) => s.atS >= referenceAtS);
  if (from === -1) return undefined;
  const after = result.samples.slice(from).map((s) => s.workerKiB);
  const referenceKiB = after[0];
  const endKiB = after[after.length - 1];
  const peakKiB = Math.max(...result.samples.map((s) => s.workerKiB));
  const lowKiB = Math.min(...after);
  const highKiB = Math.max(...after);
  const within = (kib: number) => Math.abs(kib - referenceKiB) <= FLAT_SHARE * referenceKiB;
  return {
    referenceAtS: result.samples[from].atS,
    referenceKiB,
    endKiB,
    peakKiB,
    lowKiB,
    highKiB,
    change: (endKiB - referenceKiB) / referenceKiB,
    flat: within(lowKiB) && within(highKiB),
    underTarget: peakKiB < WORKER_TARGET_KIB,
  };
}
