/**
 * The measuring loop of one scenario: a warm-up of every system, then the repetitions; in each
 * repetition every system runs in turn, the order rotated from one repetition to the next so
 * that no system always goes first.
 */
import { truncateSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LineupEntry } from './lineup.ts';
import { cpuSnapshot, foreignShare } from './noise.ts';
import { tail } from './process.ts';
import { type MemorySample, sampleRss } from './rss.ts';
import type { Scenario } from './scenarios.ts';
import { runWrk, type WrkResult } from './wrk.ts';

export interface Cell {
  readonly system: string;
  readonly scenario: string;
  readonly runs: WrkResult[];
  readonly memory: MemorySample[];
  /** CPU other processes took during each run, as a share of one core (see noise.ts). */
  readonly foreign: number[];
  /**
   * "skipped: …" when the system did not start or pass the probe; "failed: …" when a run failed
   * (the system crashed, wrk failed), in which case the cell's other runs still count.
   */
  error: string | undefined;
}

export interface MeasureOptions {
  readonly reps: number;
  readonly duration: number;
  readonly warmup: number;
  /** The load generator's CPU. */
  readonly cpu: string;
  /** Warm all systems up at the same time (--quick) rather than one after the other. */
  readonly warmupTogether: boolean;
  /** The scenario's wrk Lua script. */
  readonly script: string;
  /** How often a run during which other processes took over 10% of a core is tried again. */
  readonly retries: number;
  /** The pids of the origin and every system, whose CPU time is the benchmark's own. */
  readonly roots: () => number[];
  /** Prefixed to the scenario in the progress lines (e.g. "all cores"). */
  readonly section?: string;
}

/** A run during which other processes took more than this share of a core is run again. */
const NOISY = 0.1;

/** Waits (up to `maxSeconds`) for a second during which others take less than NOISY of a core. */
async function waitForQuiet(options: MeasureOptions, maxSeconds: number): Promise<void> {
  for (let waited = 0; waited < maxSeconds; waited++) {
    const before = cpuSnapshot(options.roots());
    await sleep(1000);
    if (foreignShare(before, cpuSnapshot(options.roots()), 1) < NOISY) return;
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function percent(share: number): string {
  return `${(share * 100).toFixed(0)}%`;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function once(entry: LineupEntry, scenario: Scenario, seconds: number, options: MeasureOptions) {
  const running = entry.running!;
  const proc = running.process;
  if (proc?.exit !== undefined)
    throw new Error(`${entry.definition.id} ${proc.exit}${tail(proc.outputFile).replace(/^(?=.)/, ': ')}`);
  if (running.accessLog !== undefined) truncateSync(running.accessLog, 0);
  const sampler = proc === undefined ? undefined : sampleRss(proc.pid);
  try {
    const script = options.script;
    const before = cpuSnapshot(options.roots());
    const result = await runWrk({ cpu: options.cpu, port: running.port, scenario, script, seconds });
    const foreign = foreignShare(before, cpuSnapshot(options.roots()), seconds);
    return { result, memory: sampler?.stop(), foreign };
  } finally {
    sampler?.stop();
    await sleep(100);
  }
}

/** Measures one scenario: a warm-up of every live system, then the repetitions, systems alternated. */
export async function measureScenario(
  entries: readonly LineupEntry[],
  scenario: Scenario,
  options: MeasureOptions,
): Promise<Cell[]> {
  const live = entries.filter((entry) => entry.running !== undefined);
  const cells = live.map(
    (entry): Cell => ({
      system: entry.definition.id,
      scenario: scenario.id,
      runs: [],
      memory: [],
      foreign: [],
      error: undefined,
    }),
  );
  const name = options.section === undefined ? scenario.id : `${options.section} ${scenario.id}`;
  if (options.warmup > 0 && options.warmupTogether) {
    log(`${name}: warm-up, ${options.warmup} s, all systems at once`);
    await Promise.all(
      live.map((entry) => once(entry, scenario, options.warmup, options).catch(() => undefined)),
    );
  } else if (options.warmup > 0) {
    log(`${name}: warm-up, ${options.warmup} s per system`);
    for (const entry of live) await once(entry, scenario, options.warmup, options).catch(() => undefined);
  }
  for (let rep = 0; rep < options.reps; rep++) {
    for (const entry of rotate(live, rep)) {
      const cell = cells[live.indexOf(entry)];
      const label = `${name} rep ${rep + 1}/${options.reps} ${entry.definition.id}`;
      try {
        let best = await once(entry, scenario, options.duration, options);
        for (let retry = 1; retry <= options.retries && best.foreign > NOISY; retry++) {
          log(`${label}: other processes took ${percent(best.foreign)} of a core, running it again`);
          await waitForQuiet(options, 20);
          const next = await once(entry, scenario, options.duration, options);
          if (next.foreign < best.foreign) best = next;
        }
        const { result, memory, foreign } = best;
        cell.runs.push(result);
        cell.foreign.push(foreign);
        if (memory !== undefined) cell.memory.push(memory);
        const extra = result.socketErrors > 0 ? `, ${result.socketErrors} socket errors` : '';
        const noise = `, other load ${percent(foreign)}`;
        log(`${label}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms${extra}${noise}`);
      } catch (err) {
        cell.error = `failed: ${err instanceof Error ? err.message : String(err)}`;
        log(`${label}: ${cell.error}`);
      }
    }
  }
  return cells;
}
