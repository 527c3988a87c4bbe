import type { StormHealth } from './health-report.ts';
import { placeWords } from './log-record.ts';
import type { Report, StormRow } from './report.ts';
import { clock, limited, rate, readableDuration, table } from './text-table.ts';

/**
 * The Storms and Health sections of `candor explain`'s text: each storm with the change placed
 * before it and the health lines around it, and the proxy's own health lines.
 */

export function storm(s: StormRow, withDate: boolean): string {
  const types = s.types
    .slice(0, 3)
    .map((t) => `${t.type} ×${t.count}`)
    .join(', ');
  const lines = [
    `${s.upstream}: ${clock(s.began, withDate)} → ${clock(s.ended, withDate)} (${readableDuration(s.seconds * 1000)}), ${s.errors} 5xx of ${s.requests} requests, peak ${rate(s.peakPerSecond)} (usually ${rate(s.baselinePerSecond)}): ${types}`,
  ];
  lines.push(`  ${placed(s.afterChange, s.undoneBy, s.upstream)}`);
  for (const c of s.changesDuring)
    lines.push(`  ${changeWords(c)} at ${clock(c.at, withDate)}, during the storm`);
  for (const h of s.health) lines.push(`  ${stormHealth(h, s, withDate)}`);
  return lines.map((l) => `  ${l}`).join('\n');
}

/** A change placed before a storm this long ago is named, but not suspected first. */
const SUSPECT_WITHIN_S = 30 * 60;

const changeWords = (c: { label: string; source: 'deploys' | 'log' }) =>
  c.source === 'deploys' ? `deploy ${c.label}` : c.label;

/**
 * "storm began 47 s after reload sha256:… (upstream api: targets … joined): suspect it first …";
 * a change rolled back since (a canary's, by its verdict or an operator) is not to be undone again.
 */
function placed(after: StormRow['afterChange'], undone: StormRow['undoneBy'], place: string): string {
  if (after === undefined)
    return `no change recorded before it (no deploy in --deploys, no event line of a Candor log): look at ${placeWords(place)} itself first`;
  const what = changeWords(after);
  // A deploy stamped just after the first 5xx of a log with 1 s resolution still started it.
  const when =
    after.seconds >= 0
      ? `${readableDuration(after.seconds * 1000)} after ${what}`
      : `with ${what} (${readableDuration(-after.seconds * 1000)} before it, within the log's time resolution)`;
  if (after.seconds > SUSPECT_WITHIN_S)
    return `storm began ${when}, the nearest change before it: too long before to suspect it first`;
  // A worker's death is no change to undo: its requests and tunnels were cut, and what ended it
  // (a crash, the OOM killer) may end the next one too.
  if (after.workerDeath === true)
    return `storm began ${when}: suspect this death first (what the worker held was cut, and nothing is to be undone: look for what ended it, the log's "worker crashed" line or the kernel's OOM killer, and whether its replacement dies too)`;
  if (undone !== undefined)
    return `storm began ${when}: suspect this change first; it was rolled back ${readableDuration(undone.seconds * 1000)} after it (${undone.label}), so there is nothing left to undo: if the storm ended then, it was the change`;
  return after.source === 'deploys'
    ? `storm began ${when}: suspect the deploy first (roll back: if the storm stops, it was the deploy)`
    : `storm began ${when}: suspect this change first (undo it: if the storm stops, it was the change)`;
}

const STATE_WORDS = {
  down: 'DOWN',
  up: 'UP',
  'no-server': 'had no server available',
  'circuit-open': 'circuit opened',
} as const;

/** "be_app/s1 DOWN 0.80 s before it: Layer4 connection problem (Connection refused)". */
function stormHealth(h: StormHealth, s: StormRow, withDate: boolean): string {
  const offsetMs = h.offsetSeconds * 1000;
  const endMs = Date.parse(s.ended) - Date.parse(s.began);
  const when =
    offsetMs < 0
      ? `${readableDuration(-offsetMs)} before it`
      : offsetMs <= endMs
        ? `${readableDuration(offsetMs)} into it`
        : `${readableDuration(offsetMs - endMs)} after it ended`;
  const reason = h.reason && h.state !== 'no-server' ? `: ${h.reason}` : '';
  return `${h.name} ${STATE_WORDS[h.state]} ${when} (${clock(h.at, withDate)})${reason}`;
}

export function health(report: Report, withDate: boolean): string {
  const { rows, more } = limited(report.health.changes, (h) => [
    h.name,
    h.state === 'no-server'
      ? 'no server'
      : h.state === 'circuit-open'
        ? 'circuit open'
        : STATE_WORDS[h.state],
    String(h.count),
    h.first === undefined ? 'no time' : clock(h.first, withDate),
    h.count > 1 && h.last !== undefined ? clock(h.last, withDate) : '',
    h.state === 'no-server' ? '' : (h.reason ?? ''),
  ]);
  const head = ['', 'state', 'count', 'first', 'last', 'reason'];
  const counted = report.health.changes.reduce((sum, h) => sum + h.count, 0);
  const kept = counted < report.health.events ? `, the first ${counted} counted below` : '';
  return `Health (the proxy's own lines: ${report.health.events} changes${kept})\n${table([head, ...rows], [2])}${more}`;
}
