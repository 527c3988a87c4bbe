/**
 * The benchmark, in one command: `node bench/run.ts [options]` (`npm run bench` from the root).
 * Installs what is missing, starts the origin and every system, measures one core against one
 * core, then all cores against all cores, then Candor's memory over a soak; writes RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { planAllCores } from './all-cores.ts';
import { candor } from './candor.ts';
import { SYSTEMS } from './catalog.ts';
import { installNodePeers, installSystemTools } from './install.ts';
import { type LineupContext, type LineupEntry, startLineup, stopLineup } from './lineup.ts';
import { describeMachine } from './machine.ts';
import { type Cell, measureScenario } from './measure.ts';
import { type BenchOptions, parseOptions, USAGE } from './options.ts';
import { startOrigin } from './origin.ts';
import { BENCH_DIR, openDir, REPO_DIR, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import { allowedCpus, type PinnedProcess } from './process.ts';
import { renderReport, reportSystems } from './report.ts';
import type { AllCoresResult } from './report-input.ts';
import { SCENARIOS, type Scenario } from './scenarios.ts';
import { planSoak, runSoak, type SoakOutcome } from './soak.ts';
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
  // Read before the harness pins itself: the all-cores section gives the proxies every CPU.
  const allCpus = allowedCpus();
  // Pin this harness (all its threads) next to the load generator, away from the proxies.
  execFileSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });

  const startedAt = new Date();
  const dir = runDir('candor-bench-');
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
    origin = await startOrigin(openDir(join(dir, 'origin')), originPort, LOAD_CPU);
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
    // Every scenario starts every system afresh: memory and state do not carry over.
    const measureSection = async (
      systems: readonly SystemDefinition[],
      context: LineupContext,
      list: readonly Scenario[],
      section?: string,
    ): Promise<Cell[]> => {
      const cells: Cell[] = [];
      for (const scenario of list) {
        lineup = await startLineup(systems, context);
        const script = writeScript(dir, scenario);
        cells.push(...(await measureScenario(lineup, scenario, { ...measureOptions, script, section })));
        cells.push(...lineup.flatMap((entry) => skippedCell(entry, scenario.id)));
        await stopLineup(lineup);
        lineup = [];
      }
      return cells;
    };
    const cells = await measureSection(definitions, common, scenarios);

    const plan = planAllCores(options, definitions);
    let allCores: AllCoresResult;
    if ('skipped' in plan) allCores = plan;
    else {
      // One worker per CPU, the proxies allowed on every CPU; wrk and the origin keep CPU 1.
      const context = { ...common, workers: allCpus.count, cpu: allCpus.list };
      const own = await measureSection(plan.definitions, context, plan.scenarios, 'all cores');
      const systems = reportSystems(plan.definitions, own);
      allCores = {
        workers: allCpus.count,
        cpus: allCpus.list,
        scenarios: plan.scenarios,
        systems,
        cells: own,
      };
    }

    const soakPlan = planSoak(options);
    let soak: SoakOutcome;
    if ('skipped' in soakPlan) soak = soakPlan;
    else {
      // Candor alone, one worker on the proxy CPU as in the one-core tables.
      lineup = await startLineup([candor], { ...common, workers: 1 });
      const [entry] = lineup;
      const script = writeScript(dir, soakPlan.scenario);
      soak =
        entry.running === undefined
          ? { skipped: `Candor did not start: ${entry.skipped}` }
          : await runSoak(entry.running, soakPlan.scenario, soakPlan.seconds, {
              cpu: LOAD_CPU,
              script,
              roots,
            });
      await stopLineup(lineup);
      lineup = [];
    }
    writeResults({ options, argv, startedAt, definitions, cells, scenarios, allCores, soak });
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

interface Measured {
  readonly options: BenchOptions;
  readonly argv: readonly string[];
  readonly startedAt: Date;
  readonly definitions: readonly SystemDefinition[];
  readonly cells: readonly Cell[];
  readonly scenarios: readonly Scenario[];
  readonly allCores: AllCoresResult;
  readonly soak: SoakOutcome;
}

function writeResults(measured: Measured): void {
  const { options, argv, startedAt, definitions, cells, scenarios, allCores, soak } = measured;
  const input = {
    command: ['node bench/run.ts', ...argv].join(' '),
    options,
    machine: describeMachine(),
    startedAt,
    finishedAt: new Date(),
    systems: reportSystems(definitions, cells),
    scenarios,
    cells,
    allCores,
    soak,
  };
  const out = options.out ?? join(BENCH_DIR, 'RESULTS.md');
  writeFileSync(out, renderReport(input));
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  const raw = join(BENCH_DIR, 'results', 'last-run.json');
  // Scenarios by id: their Lua scripts are in scenarios.ts.
  const ids = (list: readonly Scenario[]) => list.map((s) => s.id);
  const allCoresRaw = 'skipped' in allCores ? allCores : { ...allCores, scenarios: ids(allCores.scenarios) };
  const json = { ...input, scenarios: ids(scenarios), allCores: allCoresRaw };
  writeFileSync(raw, `${JSON.stringify(json, null, 2)}\n`);
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
