/**
 * The benchmark, in one command: `node bench/run.ts [options]` (`npm run bench` from the root).
 * Installs what is missing, starts the origin and every system, measures, writes RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SYSTEMS } from './catalog.ts';
import { installNodePeers, installSystemTools } from './install.ts';
import { type LineupEntry, startLineup, stopLineup } from './lineup.ts';
import { describeMachine } from './machine.ts';
import { type Cell, measureScenario } from './measure.ts';
import { type BenchOptions, parseOptions, USAGE } from './options.ts';
import { startOrigin } from './origin.ts';
import { BENCH_DIR, REPO_DIR } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { renderReport } from './report.ts';
import { SCENARIOS, type Scenario } from './scenarios.ts';
import type { SystemDefinition } from './systems.ts';
import { writeScript } from './wrk.ts';

/** The proxies get CPU 0; wrk, the origin and this harness share CPU 1. */
const PROXY_CPU = '0';
const LOAD_CPU = '1';

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  installSystemTools();
  installNodePeers();
  // Pin this harness (all its threads) next to the load generator, away from the proxies.
  execFileSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });

  const startedAt = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
  chmodSync(dir, 0o755);
  let origin: PinnedProcess | undefined;
  let lineup: LineupEntry[] = [];
  const cleanup = async () => {
    await stopLineup(lineup);
    await origin?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    process.stderr.write('bench: interrupted, stopping everything\n');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const definitions = SYSTEMS.filter((s) => options.only.includes(s.id));
    const [originPort, deadPort, ...ports] = await freePorts(2 + definitions.length);
    mkdirSync(join(dir, 'origin'));
    chmodSync(join(dir, 'origin'), 0o755);
    origin = await startOrigin(join(dir, 'origin'), originPort, LOAD_CPU);
    const common = { dir, ports, originPort, deadPort, workers: options.workers, cpu: PROXY_CPU };
    const scenarios = SCENARIOS.filter((s) => options.scenarios.includes(s.id));
    const roots = () => [origin?.pid ?? -1, ...lineup.flatMap((e) => e.running?.process?.pid ?? [])];
    const measureOptions = {
      ...options,
      cpu: LOAD_CPU,
      roots,
      retries: options.quick ? 0 : 2,
      warmupTogether: options.quick,
    };
    const cells: Cell[] = [];
    // Every scenario starts every system afresh: memory and state do not carry over.
    for (const scenario of scenarios) {
      lineup = await startLineup(definitions, common);
      const script = writeScript(dir, scenario);
      cells.push(...(await measureScenario(lineup, scenario, { ...measureOptions, script })));
      cells.push(...lineup.flatMap((entry) => skippedCell(entry, scenario.id)));
      await stopLineup(lineup);
      lineup = [];
    }
    writeResults(options, argv, startedAt, definitions, cells, scenarios);
    return 0;
  } finally {
    await cleanup();
  }
}

function skippedCell(entry: LineupEntry, scenario: string): Cell[] {
  if (entry.skipped === undefined) return [];
  const error = `skipped: ${entry.skipped}`;
  return [{ system: entry.definition.id, scenario, runs: [], memory: [], foreign: [], error }];
}

function writeResults(
  options: BenchOptions,
  argv: readonly string[],
  startedAt: Date,
  definitions: readonly SystemDefinition[],
  cells: readonly Cell[],
  scenarios: readonly Scenario[],
): void {
  const systems = definitions.map((definition) => {
    const own = cells.filter((cell) => cell.system === definition.id);
    // A system is skipped when no scenario has a single run of it.
    const skipped = own.some((cell) => cell.runs.length > 0) ? undefined : (own[0]?.error ?? 'not measured');
    const { id, label, group, setup } = definition;
    return { id, label, group, setup, skipped };
  });
  const input = {
    command: ['node bench/run.ts', ...argv].join(' '),
    options,
    machine: describeMachine(),
    startedAt,
    finishedAt: new Date(),
    systems,
    scenarios,
    cells,
  };
  const out = options.out ?? join(BENCH_DIR, 'RESULTS.md');
  writeFileSync(out, renderReport(input));
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  const raw = join(BENCH_DIR, 'results', 'last-run.json');
  writeFileSync(raw, `${JSON.stringify({ ...input, scenarios: scenarios.map((s) => s.id) }, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${relative(REPO_DIR, out)} and ${relative(REPO_DIR, raw)}\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
