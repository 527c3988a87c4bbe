/**
 * Rows of wrk load run alternated: a warm-up per row, then `rounds` rounds of every row in turn,
 * each row's requests a second and its server's CPU per request (its process tree, from /proc:
 * what load on the machine does not change) kept per round. Shared by the benches that compare
 * a few paths of Candor and nginx side by side (cache-hit.ts, static-files.ts).
 */
import { treeCpuSeconds } from './noise.ts';
import type { Scenario } from './scenarios.ts';
import { runWrk, type WrkResult, writeScript } from './wrk.ts';

export interface LoadRow {
  readonly label: string;
  readonly port: number;
  /** The server's pid: its process tree's CPU is counted. */
  readonly pid: number;
  readonly path: string;
}

export interface MeasuredRow extends LoadRow {
  readonly runs: WrkResult[];
  readonly cpuUs: number[];
}

export interface AlternatedOptions {
  readonly dir: string;
  readonly cpu: string;
  readonly connections: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly warmup: number;
  /** Names the bench in its progress lines on stderr. */
  readonly bench: string;
}

/** One row's wrk scenario: GET `path` over `connections` keep-alive connections. */
function scenario(path: string, connections: number): Scenario {
  const id = path.slice(1).replace(/\W/g, '-');
  return { id, title: path, path, connections, failShare: 0, quick: true, lua: '' };
}

export async function runAlternated(rows: readonly LoadRow[], o: AlternatedOptions): Promise<MeasuredRow[]> {
  const measured = rows.map((row) => ({ ...row, runs: [] as WrkResult[], cpuUs: [] as number[] }));
  const scripts = new Map(
    rows.map((row) => [row.path, writeScript(o.dir, scenario(row.path, o.connections))]),
  );
  const load = (row: LoadRow, seconds: number) =>
    runWrk({
      cpu: o.cpu,
      port: row.port,
      scenario: scenario(row.path, o.connections),
      script: scripts.get(row.path) as string,
      seconds,
    });
  for (const row of measured) await load(row, o.warmup);
  for (let round = 0; round < o.rounds; round++)
    for (const row of measured) {
      const cpuBefore = treeCpuSeconds(row.pid);
      const run = await load(row, o.seconds);
      row.runs.push(run);
      row.cpuUs.push(((treeCpuSeconds(row.pid) - cpuBefore) * 1e6) / run.requests);
      process.stderr.write(
        `bench ${o.bench}: round ${round + 1} ${row.label}: ${Math.round(run.rps)} req/s\n`,
      );
    }
  return measured;
}
