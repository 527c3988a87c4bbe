/** RESULTS.md: the tables, the ratios, the machine, the versions and the exact command. */
import * as fmt from './format.ts';
import type { Cell } from './measure.ts';
import type { ReportInput, ReportSystem } from './report-input.ts';
import { soakSection } from './report-soak.ts';
import { allCoresTables, memoryTable, rowsOf, scenarioTable, summaryTable } from './report-tables.ts';
import { spread } from './stats.ts';
import type { SystemDefinition } from './systems.ts';

/** The systems as the report names them; one is skipped when no scenario has a single run of it. */
export function reportSystems(
  definitions: readonly SystemDefinition[],
  cells: readonly Cell[],
): ReportSystem[] {
  return definitions.map((definition) => {
    const own = cells.filter((cell) => cell.system === definition.id);
    const skipped = own.some((cell) => cell.runs.length > 0) ? undefined : (own[0]?.error ?? 'not measured');
    const { id, label, group, setup } = definition;
    return { id, label, group, setup, skipped };
  });
}

function allCoresSection(input: ReportInput): string[] {
  const section = input.allCores;
  if ('skipped' in section) return ['## All cores', '', `Not run: ${section.skipped}.`, ''];
  const workers = section.workers;
  return [
    `## All cores (${workers} workers each)`,
    '',
    `One worker per core: Candor \`--workers ${workers}\`, nginx \`worker_processes ${workers}\`, HAProxy ` +
      `\`nbthread ${workers}\`, each allowed on every CPU (\`taskset -c ${section.cpus}\`), started afresh per ` +
      `scenario and measured like the one-core tables (${input.options.reps} × ${input.options.duration} s, ` +
      'systems alternated). wrk and the origin stay on CPU 1, so **the load generator competes with the proxy ' +
      'for CPU 1**: the numbers are below what the machine could do, and only the ratios between systems count. ' +
      '"direct" is wrk straight to the origin, as in the one-core tables. ' +
      'The Node peers are single-process servers and are left out. "peak RSS, all processes" sums the process ' +
      "tree (Candor's primary and its workers; nginx's master and workers; HAProxy is one process); \"largest " +
      'worker" is the biggest single worker process (for HAProxy, whose workers are threads, the process).',
    '',
    ...allCoresTables(section),
  ];
}

/** Where the ceiling of CPU 1 (wrk + origin) comes close to the fastest proxy, the proxy may be held back. */
function headroomNotes(input: ReportInput): string[] {
  const notes: string[] = [];
  for (const scenario of input.scenarios) {
    const rows = rowsOf(input, scenario);
    const direct = rows.find((r) => r.system === 'direct')?.rps?.median;
    const proxies = rows.filter((r) => r.group !== 'baseline' && r.rps !== undefined);
    if (direct === undefined || proxies.length === 0) continue;
    const best = proxies.reduce((a, b) => (a.rps!.median >= b.rps!.median ? a : b));
    const headroom = direct / best.rps!.median;
    const verdict =
      headroom >= 1.3
        ? 'the origin side is not the limit'
        : 'the origin side may hold the fastest proxies back';
    notes.push(
      `- ${scenario.id}: direct is ${headroom.toFixed(2)}× the fastest proxy (${best.system}): ${verdict}.`,
    );
  }
  return notes;
}

/** One line on how busy the machine was with other work during the measured runs. */
function loadLine(input: ReportInput): string {
  const allCores = 'skipped' in input.allCores ? [] : input.allCores.cells;
  const all = [...input.cells, ...allCores].flatMap((cell) => cell.foreign);
  if (all.length === 0) return '';
  const { median, max } = spread(all);
  const busy =
    median > 0.1 ? ' **The machine was busy with other work: these numbers are low and noisy.**' : '';
  return `Other load during the measured runs (CPU taken outside the benchmark, share of one core): median ${fmt.percent(median)}, max ${fmt.percent(max)}.${busy}`;
}

export function renderReport(input: ReportInput): string {
  const { options: o, machine: m } = input;
  const minutes = ((input.finishedAt.getTime() - input.startedAt.getTime()) / 60_000).toFixed(1);
  const skipped = input.systems.filter((s) => s.skipped !== undefined);
  return [
    '# Candor benchmark results',
    '',
    `Run ${input.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} (${minutes} min)${o.quick ? ', **--quick** smoke run: one short repetition, numbers are indicative only' : ''}.`,
    '',
    `Command: \`${input.command}\``,
    '',
    `${o.reps} repetition(s) × ${o.duration} s per system and scenario after a ${o.warmup} s warm-up${o.quick ? ' (all systems at once)' : ''}, systems alternated; ` +
      `\`wrk -t1 --latency\`, keep-alive on both sides; medians (min–max) over the repetitions; ` +
      `${o.workers} worker(s) for Candor and nginx (worker_processes), nbthread ${o.workers} for HAProxy, one process for each Node peer.`,
    '',
    loadLine(input),
    '',
    '## Requests per second (median; × nginx in parentheses)',
    '',
    ...summaryTable(input),
    '',
    ...(skipped.length > 0 ? ['Skipped:', '', ...skipped.map((s) => `- ${s.label}: ${s.skipped}`), ''] : []),
    '## Per scenario',
    '',
    ...input.scenarios.flatMap((scenario) => scenarioTable(input, scenario)),
    '## Memory',
    '',
    'Peak RSS / VmHWM per scenario. Peak RSS: VmRSS of the proxy process and its children, summed, sampled every ' +
      "100 ms during the measured runs (highest sample). VmHWM: the kernel's high-water mark of the same processes, " +
      'summed, after the last run (it includes the warm-up). Every scenario starts every system afresh.',
    '',
    ...memoryTable(input),
    '',
    'Candor, per worker: the VmRSS of its largest worker process; the first Candor row also counts the ' +
      'supervising primary, which forks the workers even with `--workers 1`. The targets: the largest ' +
      'process under 80 MiB, the primary under 50 MiB.',
    '',
    ...allCoresSection(input),
    ...soakSection(input.soak),
    '## Origin headroom',
    '',
    ...(input.systems.some((s) => s.id === 'direct' && s.skipped === undefined)
      ? headroomNotes(input)
      : ['Not known: "direct" was not measured.']),
    '',
    '## Machine and software',
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} cores; ${m.memory} RAM; ${m.kernel}`,
    `- Node ${m.node} (Candor and the Node peers); nginx ${m.nginx}; ${m.haproxy}; ${m.wrk}`,
    `- Node peers: ${m.peers.join(', ')}`,
    `- Candor: ${m.candorCommit}`,
    '',
    '## Setup',
    '',
    '- Pinning (taskset): every proxy on CPU 0; wrk, the origin and this harness on CPU 1. In the all-cores ' +
      'section the proxies may use every CPU; the rest stays on CPU 1.',
    '- Origin: a separate nginx, 1 worker, no access log: `/small` 100 bytes, `/64k` a 64 KiB file, ' +
      '`/upload` reads the whole POST body before it answers "ok".',
    '- `/fail` goes to a port nothing listens on (connection refused) through every proxy.',
    '- "other load": the most CPU that processes outside the benchmark (and the hypervisor, as steal time) took ' +
      "during one of the runs, as a share of one core (machine CPU time minus the benchmark's own). Outside " +
      '--quick, a run above 10% is run again (twice at most, after waiting up to 20 s for a quiet second) and the ' +
      'quietest attempt kept. Load that no process ' +
      'inside the machine shows (the host) is not seen: the min–max spread is the honest error bar.',
    '- fail-mix through "direct": the origin answers `/fail` itself (200), so that row is only the ceiling of the ' +
      'load generator for this request mix.',
    '- Access logging is ON for every proxy, to a file (emptied between runs): it is part of the cost of a request.',
    ...input.systems.map((s) => `- ${s.label}: ${s.setup}`),
    '',
  ].join('\n');
}
