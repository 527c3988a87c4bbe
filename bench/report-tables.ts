/** The tables of RESULTS.md: the summary, one per scenario, memory, and the all-cores section. */
import * as fmt from './format.ts';
import type { AllCoresSection, ReportInput } from './report-input.ts';
import type { Scenario } from './scenarios.ts';
import { type Row, references, summarise } from './summary.ts';

export function rowsOf(input: ReportInput, scenario: Scenario): Row[] {
  const rows: Row[] = [];
  for (const system of input.systems) {
    const cell = input.cells.find((c) => c.system === system.id && c.scenario === scenario.id);
    if (cell !== undefined) rows.push(summarise(cell, system.group));
  }
  return rows;
}

function errorsText(row: Row, scenario: Scenario): string {
  const parts: string[] = [];
  if (row.non2xxShare > 0 || (scenario.failShare > 0 && row.group !== 'baseline')) {
    parts.push(`${fmt.percent(row.non2xxShare)} non-2xx`);
  }
  if (row.socketErrors > 0) parts.push(`${row.socketErrors} socket errors`);
  if (row.error !== undefined) parts.push(row.error.slice(0, 160));
  return parts.length === 0 ? '0' : parts.join(', ');
}

export function scenarioTable(input: ReportInput, scenario: Scenario): string[] {
  const rows = rowsOf(input, scenario);
  const ref = references(rows);
  const lines = [
    `### ${scenario.id}: ${scenario.title}`,
    '',
    '| system | req/s (median) | min–max | vs nginx | vs node:net | vs best Node peer | p50 | p99 | peak RSS | errors | other load |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|',
  ];
  for (const row of rows) {
    const label = input.systems.find((s) => s.id === row.system)?.label ?? row.system;
    const r = row.rps;
    lines.push(
      [
        label,
        r === undefined ? '–' : `**${fmt.rps(r.median)}**`,
        r === undefined ? '–' : `${fmt.rps(r.min)}–${fmt.rps(r.max)}`,
        fmt.ratio(r?.median, ref.nginx),
        fmt.ratio(r?.median, ref.net),
        fmt.ratio(r?.median, ref.bestNode),
        row.p50Ms === undefined ? '–' : fmt.ms(row.p50Ms),
        row.p99Ms === undefined ? '–' : fmt.ms(row.p99Ms),
        row.peakRssKiB === undefined ? '–' : fmt.mib(row.peakRssKiB),
        errorsText(row, scenario),
        fmt.percent(row.foreignMax),
      ]
        .join(' | ')
        .replace(/^/, '| ')
        .replace(/$/, ' |'),
    );
  }
  const bestNode = input.systems.find((s) => s.id === ref.bestNodeId)?.label;
  if (bestNode !== undefined) lines.push('', `Best Node peer here: ${bestNode}.`);
  return [...lines, ''];
}

export function summaryTable(input: ReportInput): string[] {
  const header = ['system', ...input.scenarios.map((s) => s.id)];
  const lines = [`| ${header.join(' | ')} |`, `|---|${input.scenarios.map(() => '--:').join('|')}|`];
  const rowsByScenario = input.scenarios.map((scenario) => rowsOf(input, scenario));
  for (const system of input.systems) {
    if (system.skipped !== undefined) {
      lines.push(`| ${system.label} | ${input.scenarios.map(() => 'skipped').join(' | ')} |`);
      continue;
    }
    const cells = rowsByScenario.map((rows) => {
      const row = rows.find((r) => r.system === system.id);
      const { nginx, net } = references(rows);
      if (row?.rps === undefined) return '–';
      const ratios: string[] = [];
      if (system.id !== 'nginx' && nginx !== undefined) ratios.push(fmt.ratio(row.rps.median, nginx));
      // Candor (and the contract's floor) against the ceiling of what Node can do, in every table.
      if ((system.group === 'candor' || system.group === 'floor') && net !== undefined)
        ratios.push(`${fmt.ratio(row.rps.median, net)} node:net`);
      return `${fmt.rps(row.rps.median)}${ratios.length > 0 ? ` (${ratios.join(', ')})` : ''}`;
    });
    lines.push(`| ${system.label} | ${cells.join(' | ')} |`);
  }
  return lines;
}

export function memoryTable(input: ReportInput): string[] {
  const lines = [
    `| system | ${input.scenarios.map((s) => s.id).join(' | ')} |`,
    `|---|${input.scenarios.map(() => '--:').join('|')}|`,
  ];
  const rowsByScenario = input.scenarios.map((scenario) => rowsOf(input, scenario));
  for (const system of input.systems) {
    if (system.skipped !== undefined || system.group === 'baseline') continue;
    const cells = rowsByScenario.map((rows) => {
      const row = rows.find((r) => r.system === system.id);
      if (row?.peakRssKiB === undefined || row.hwmKiB === undefined) return '–';
      return `${fmt.mib(row.peakRssKiB)} / ${fmt.mib(row.hwmKiB)}`;
    });
    lines.push(`| ${system.label} | ${cells.join(' | ')} |`);
    // Candor's memory target is per worker; with one worker the two rows agree.
    if (system.group === 'candor') {
      const workers = rowsByScenario.map((rows) => {
        const kib = rows.find((r) => r.system === system.id)?.peakWorkerRssKiB;
        return kib === undefined ? '–' : fmt.mib(kib);
      });
      lines.push(`| ${system.label}, per worker (peak RSS) | ${workers.join(' | ')} |`);
    }
  }
  return lines;
}

/** One table per scenario of the all-cores section. */
export function allCoresTables(section: AllCoresSection): string[] {
  const lines: string[] = [];
  for (const scenario of section.scenarios) {
    const rows = section.systems.flatMap((system) => {
      const cell = section.cells.find((c) => c.system === system.id && c.scenario === scenario.id);
      return cell === undefined ? [] : [summarise(cell, system.group)];
    });
    const nginx = references(rows).nginx;
    lines.push(
      `### ${scenario.id} on all cores: ${scenario.title}`,
      '',
      '| system | req/s (median) | min–max | × nginx | p99 | peak RSS, all processes | peak RSS, largest worker | errors | other load |',
      '|---|--:|--:|--:|--:|--:|--:|---|--:|',
    );
    for (const row of rows) {
      const label = section.systems.find((s) => s.id === row.system)?.label ?? row.system;
      const r = row.rps;
      const cells = [
        label,
        r === undefined ? '–' : `**${fmt.rps(r.median)}**`,
        r === undefined ? '–' : `${fmt.rps(r.min)}–${fmt.rps(r.max)}`,
        fmt.ratio(r?.median, nginx),
        row.p99Ms === undefined ? '–' : fmt.ms(row.p99Ms),
        row.peakRssKiB === undefined ? '–' : fmt.mib(row.peakRssKiB),
        row.peakWorkerRssKiB === undefined ? '–' : fmt.mib(row.peakWorkerRssKiB),
        errorsText(row, scenario),
        fmt.percent(row.foreignMax),
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines;
}
