/**
 * The text report's pieces for the terminal (render-*.ts): tables with columns padded to their
 * widest cell, a table cut to its first rows, and durations, clock times, percents, rates and
 * counts with their noun, written one way everywhere.
 */

/** A plain-text table: columns padded to their widest cell. */
export function table(
  rows: readonly (readonly string[])[],
  rightAligned: readonly number[] = [],
  indent = '  ',
): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => {
      const cells = row.map((cell, i) => {
        if (i === row.length - 1 && !rightAligned.includes(i)) return cell;
        return rightAligned.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      });
      return `${indent}${cells.join('  ')}`.trimEnd();
    })
    .join('\n');
}

/** "1.25 s", "850 ms". */
export function readableDuration(ms: number): string {
  if (ms >= 100_000) return `${Math.round(ms / 1000)} s`;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

/** "13:11:05.6" (UTC), with the date when `withDate`. */
export function clock(isoTime: string, withDate = false): string {
  const [date, time] = isoTime.split('T');
  const short = time.replace(/(\.\d)\d*Z$/, '$1');
  return withDate ? `${date} ${short}` : short;
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

export function rate(perSecond: number): string {
  // Buckets grow with the span (an hour each over a week of logs): 30 5xx in one is 0.008/s,
  // which one decimal would print "0/s", a storm of none. A slower rate takes a longer unit.
  const [unit, seconds] =
    RATE_UNITS.find(([, s]) => perSecond === 0 || perSecond * s >= 0.1) ?? RATE_UNITS[RATE_UNITS.length - 1];
  const value = perSecond * seconds;
  const shown =
    value >= 10 ? Math.round(value) : value >= 0.1 ? Number(value.toFixed(1)) : Number(value.toPrecision(1));
  return `${shown}/${unit}`;
}

const RATE_UNITS = [
  ['s', 1],
  ['min', 60],
  ['h', 3600],
] as const;

/** "1 request", "2 requests". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

const MAX_ROWS = 15;

/** At most MAX_ROWS rows of a table, and a line saying how many more --json has. */
export function limited<T>(
  rows: readonly T[],
  render: (row: T) => string[],
): { rows: string[][]; more: string } {
  const shown = rows.slice(0, MAX_ROWS).map(render);
  const more = rows.length > MAX_ROWS ? `\n  … ${rows.length - MAX_ROWS} more (see --json)` : '';
  return { rows: shown, more };
}
