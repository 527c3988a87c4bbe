/** The command line of bench/run.ts, parsed and checked; unknown options are errors. */
import { SYSTEMS } from './catalog.ts';
import { SCENARIOS } from './scenarios.ts';

export interface BenchOptions {
  readonly quick: boolean;
  /** Seconds per measured run. */
  readonly duration: number;
  readonly reps: number;
  /** Seconds of warm-up per system and scenario before the first measured run. */
  readonly warmup: number;
  /** System ids, in table order. */
  readonly only: readonly string[];
  /** Scenario ids, in table order. */
  readonly scenarios: readonly string[];
  readonly workers: number;
  /** Run the all-cores section (Candor, nginx, HAProxy on every CPU) after the one-core scenarios. */
  readonly allCores: boolean;
  /** Seconds of the Candor memory soak under small-c200; undefined: no soak. */
  readonly soak: number | undefined;
  /** Where the Markdown report goes. */
  readonly out: string | undefined;
  readonly help: boolean;
}

export const USAGE = `Usage: node bench/run.ts [options]   (from the repo root: npm run bench -- [options])

  --quick              smoke check: 1 repetition of 3 s, scenarios ${SCENARIOS.filter((s) => s.quick)
    .map((s) => s.id)
    .join(', ')}, a 1 s warm-up of all systems at once, no re-runs of noisy runs
  --duration=SECONDS   length of each measured run (default 10; 3 with --quick)
  --reps=N             repetitions; the table shows their median and min–max (default 3; 1 with --quick)
  --warmup=SECONDS     warm-up per system and scenario before the first repetition (default 2, 1 with --quick; 0: none)
  --only=a,b           systems to measure: ${SYSTEMS.map((s) => s.id).join(', ')} (default: all but
                       ${SYSTEMS.filter((s) => s.onlyWhenNamed === true)
                         .map((s) => s.id)
                         .join(' and ')})
  --scenarios=a,b      scenarios: ${SCENARIOS.map((s) => s.id).join(', ')} (default: all)
  --workers=N          Candor's --workers, nginx's worker_processes, HAProxy's nbthread (default 1;
                       the all-cores section always uses one per CPU)
  --no-all-cores       skip the all-cores section (one worker per core, proxies on every CPU; off with --quick)
  --all-cores          run the all-cores section even with --quick
  --soak-duration=S    length of the Candor memory soak under small-c200 (default 300; off with --quick unless given)
  --no-soak            skip the soak
  --out=FILE           where to write the report (default bench/RESULTS.md)
  --help               this text
`;

function positiveInt(name: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function idList(name: string, value: string, known: readonly string[]): string[] {
  const ids = value.split(',').filter((id) => id !== '');
  const unknown = ids.filter((id) => !known.includes(id));
  if (unknown.length > 0)
    throw new Error(`--${name}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  // Keep the catalog's order, whatever order was typed.
  return known.filter((id) => ids.includes(id));
}

/** Parses `--name=value` and `--name value` forms. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const given = new Map<string, string>();
  const flags = new Set(['quick', 'help', 'all-cores', 'no-all-cores', 'no-soak']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (flags.has(name)) given.set(name, 'true');
    else if (eq !== -1) given.set(name, arg.slice(eq + 1));
    else if (i + 1 < argv.length) given.set(name, argv[++i]);
    else throw new Error(`--${name} needs a value`);
  }
  const known = [
    ...flags,
    ...['duration', 'reps', 'warmup', 'only', 'scenarios', 'workers', 'soak-duration', 'out'],
  ];
  const unknown = [...given.keys()].filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`unknown option --${unknown[0]}\n${USAGE}`);

  const quick = given.has('quick');
  const allScenarios = SCENARIOS.map((s) => s.id);
  const quickScenarios = SCENARIOS.filter((s) => s.quick).map((s) => s.id);
  const value = (name: string) => given.get(name);
  if (given.has('all-cores') && given.has('no-all-cores'))
    throw new Error('--all-cores and --no-all-cores contradict each other');
  if (given.has('no-soak') && given.has('soak-duration'))
    throw new Error('--no-soak and --soak-duration contradict each other');
  // Both extra sections take minutes: --quick (under a minute) leaves them out unless asked for.
  const allCores = given.has('all-cores') || (!quick && !given.has('no-all-cores'));
  const soakWanted = given.has('soak-duration') || (!quick && !given.has('no-soak'));
  return {
    quick,
    help: given.has('help'),
    duration: positiveInt('duration', value('duration') ?? (quick ? '3' : '10')),
    reps: positiveInt('reps', value('reps') ?? (quick ? '1' : '3')),
    warmup: positiveInt('warmup', value('warmup') ?? (quick ? '1' : '2'), 0),
    workers: positiveInt('workers', value('workers') ?? '1'),
    allCores,
    soak: soakWanted ? positiveInt('soak-duration', value('soak-duration') ?? '300') : undefined,
    only: idList(
      'only',
      value('only') ??
        SYSTEMS.filter((s) => s.onlyWhenNamed !== true)
          .map((s) => s.id)
          .join(','),
      SYSTEMS.map((s) => s.id),
    ),
    scenarios: idList(
      'scenarios',
      value('scenarios') ?? (quick ? quickScenarios : allScenarios).join(','),
      allScenarios,
    ),
    out: value('out'),
  };
}
