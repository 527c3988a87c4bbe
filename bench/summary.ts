/** From the raw runs of a cell to the numbers of a table row. */
import type { Cell } from './measure.ts';
import { type Spread, spread } from './stats.ts';
import type { SystemGroup } from './systems.ts';

export interface Row {
  readonly system: string;
  readonly group: SystemGroup;
  readonly scenario: string;
  readonly runs: number;
  readonly rps: Spread | undefined;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** Highest sampled VmRSS (process tree) over the runs, KiB. */
  readonly peakRssKiB: number | undefined;
  /** Highest sampled VmRSS of a single worker over the runs, KiB (see rss.ts). */
  readonly peakWorkerRssKiB: number | undefined;
  /** VmHWM (process tree) after the last run, KiB. */
  readonly hwmKiB: number | undefined;
  /** Share of responses outside 2xx/3xx. */
  readonly non2xxShare: number;
  readonly socketErrors: number;
  /** Highest share of a core other processes took during one of the runs. */
  readonly foreignMax: number;
  readonly error: string | undefined;
}

export function summarise(cell: Cell, group: SystemGroup): Row {
  const requests = cell.runs.reduce((sum, run) => sum + run.requests, 0);
  const non2xx = cell.runs.reduce((sum, run) => sum + run.non2xx, 0);
  const has = cell.runs.length > 0;
  return {
    system: cell.system,
    group,
    scenario: cell.scenario,
    runs: cell.runs.length,
    rps: has ? spread(cell.runs.map((run) => run.rps)) : undefined,
    p50Ms: has ? spread(cell.runs.map((run) => run.p50Ms)).median : undefined,
    p99Ms: has ? spread(cell.runs.map((run) => run.p99Ms)).median : undefined,
    peakRssKiB: cell.memory.length > 0 ? Math.max(...cell.memory.map((m) => m.peakRssKiB)) : undefined,
    peakWorkerRssKiB:
      cell.memory.length > 0 ? Math.max(...cell.memory.map((m) => m.peakWorkerRssKiB)) : undefined,
    hwmKiB: cell.memory.length > 0 ? cell.memory[cell.memory.length - 1].hwmKiB : undefined,
    non2xxShare: requests > 0 ? non2xx / requests : 0,
    socketErrors: cell.runs.reduce((sum, run) => sum + run.socketErrors, 0),
    foreignMax: Math.max(0, ...cell.foreign),
    error: cell.error,
  };
}

/** The median rps of nginx, of the raw node:net proxy and of the fastest Node peer in one scenario's rows. */
export function references(rows: readonly Row[]): {
  nginx?: number;
  net?: number;
  bestNode?: number;
  bestNodeId?: string;
} {
  const nginx = rows.find((row) => row.system === 'nginx')?.rps?.median;
  const net = rows.find((row) => row.group === 'ceiling')?.rps?.median;
  let bestNode: Row | undefined;
  for (const row of rows) {
    if (row.group !== 'node' || row.rps === undefined) continue;
    if (bestNode?.rps === undefined || row.rps.median > bestNode.rps.median) bestNode = row;
  }
  return { nginx, net, bestNode: bestNode?.rps?.median, bestNodeId: bestNode?.system };
}
