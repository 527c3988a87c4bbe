/**
 * Human units in the config file: durations ("250ms", "5s", "1.5m") and sizes ("512",
 * "8KiB", "10MiB"). The runtime config holds plain numbers (milliseconds, bytes).
 *
 * A duration always carries its unit: a bare "30" could be seconds or milliseconds
 * depending on whose config the operator last read, and guessing wrong is a silent outage.
 * A bare size is bytes, which nobody misreads.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

// Case matters on the "i" (KiB is binary, KB decimal); "k" is accepted in either case
// because "kB" is the SI spelling and "KB" the common one.
const SIZE = /^(\d+(?:\.\d+)?)(B|[kK]B|MB|GB|[kK]iB|MiB|GiB)?$/;
const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1_000,
  MB: 1_000_000,
  GB: 1_000_000_000,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

export const KiB = 1024;
export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/**
 * The longest duration a timer can wait: Node's timers hold 2^31 - 1 ms (about 24.8 days), and
 * one asked for longer fires after 1 ms, which for a timeout re-armed until its due time is a
 * loop of timers a request. 596h is the whole hours under it.
 */
export const LONGEST_TIMER_MS = 596 * 3_600_000;

/**
 * Milliseconds in a duration like "250ms", "5s", "1.5m" or "1h" (rounded to whole ms),
 * or undefined when the text is not one.
 *
 * @example parseDuration('1.5s') // 1500
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * MS_PER_UNIT[match[2]]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Bytes in a size like "512", "8KB" (8000) or "8KiB" (8192); a number is taken as bytes.
 * Undefined when it is not a whole, non-negative number of bytes.
 *
 * @example parseSize('10MiB') // 10485760
 */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  const unit = (match[2] ?? 'B').replace(/^k/, 'K');
  const amount = Number(match[1]);
  // "1.5KiB" is 1536 bytes, but "1.5" or "1.5B" names a fraction of a byte.
  if (unit === 'B' && !Number.isInteger(amount)) return undefined;
  const bytes = Math.round(amount * BYTES_PER_UNIT[unit]);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The shortest exact spelling of a duration, for messages: 30000 → "30s". */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms !== 0 && ms % MS_PER_UNIT[unit] === 0) return `${ms / MS_PER_UNIT[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** The shortest exact spelling of a size, for messages: 32768 → "32KiB". */
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    if (bytes !== 0 && bytes % BYTES_PER_UNIT[unit] === 0) return `${bytes / BYTES_PER_UNIT[unit]}${unit}`;
  }
  return `${bytes}B`;
}

/** Unit words other configs write (systemd's `5min`, a person's `5 seconds`), by the unit meant. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  msec: 'ms',
  millisecond: 'ms',
  milliseconds: 'ms',
  S: 's',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  H: 'h',
  hr: 'h',
  hrs: 'h',
  hour: 'h',
  hours: 'h',
};

/**
 * Why a value that is no duration is none, with the duration it may have meant, as " (…)" to
 * put after it; "" when no guess fits (`fast`). The spellings other configs take are the usual
 * ones: Go's and Envoy's `1h30m`, a clock's `1m30`, nginx's bare seconds, systemd's `5min`.
 *
 * @example durationAdvice('1h30m') // ' (one unit to a duration: 90m)'
 */
export function durationAdvice(value: unknown): string {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(?:\.\d+)?$/.test(value)))
    return ` (a number alone is no duration: ${value}s, or ${value}ms?)`;
  if (typeof value !== 'string') return '';
  if (/^[-+]/.test(value) && parseDuration(value.slice(1)) !== undefined)
    return ' (a duration takes no sign)';
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length > 1 && parts.map((part) => part[0]).join('') === value) {
    const total = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * MS_PER_UNIT[unit], 0);
    return ` (one unit to a duration: ${formatDuration(Math.round(total))})`;
  }
  const clock = /^(\d+)(h|m)(\d+)$/.exec(value);
  if (clock !== null) {
    const [, whole, unit, rest] = clock;
    const next = unit === 'h' ? 'm' : 's';
    const total = Number(whole) * MS_PER_UNIT[unit] + Number(rest) * MS_PER_UNIT[next];
    return ` (one unit to a duration: ${formatDuration(total)}, if ${value}${next} was meant)`;
  }
  const exponent = /^(\d+(?:\.\d+)?e[-+]?\d+)(ms|s|m|h)$/i.exec(value);
  if (exponent !== null) {
    const ms = Number(exponent[1]) * MS_PER_UNIT[exponent[2]];
    return Number.isSafeInteger(ms) && ms > 0 ? ` (no exponent: ${formatDuration(ms)})` : ' (no exponent)';
  }
  const worded = /^(\d+(?:\.\d+)?) *([A-Za-z]+)$/.exec(value);
  const unit =
    worded === null ? undefined : (UNIT_WORDS[worded[2]] ?? UNIT_WORDS[worded[2].toLowerCase()] ?? worded[2]);
  if (worded !== null && unit !== undefined && MS_PER_UNIT[unit] !== undefined)
    return ` (its unit is ms, s, m or h, right after the number: ${worded[1]}${unit})`;
  return '';
}

/** nginx's size suffixes, which count in 1024s: its `10m` is 10 MiB. */
const NGINX_SUFFIXES: Readonly<Record<string, readonly [binary: string, decimal: string, bytes: number]>> = {
  k: ['KiB', 'kB', 1_000],
  m: ['MiB', 'MB', 1_000_000],
  g: ['GiB', 'GB', 1_000_000_000],
};

/** A unit written in another case than the one taken, by the unit in lower case. */
const SIZE_UNITS_BY_CASE: Readonly<Record<string, string>> = { kib: 'KiB', mib: 'MiB', gib: 'GiB' };

/**
 * Why a size that is none is none, with the one it may have meant, as " (…)" to put after it;
 * "" when no guess fits. nginx's `10m` (10 MiB, its sizes count in 1024s), a unit in another case
 * (`1Mib`, `1mb`, whose M is decimal or binary as one reads it), a space, a sign.
 *
 * @example sizeAdvice('10m') // " (nginx's 10m is 10MiB: write 10MiB, or 10MB for 10000000 bytes)"
 */
export function sizeAdvice(value: unknown): string {
  if (typeof value !== 'string') return '';
  if (/^[-+]/.test(value) && parseSize(value.slice(1)) !== undefined) return ' (a size takes no sign)';
  const spaced = /^(\d+(?:\.\d+)?) +(\S+)$/.exec(value);
  if (spaced !== null && parseSize(`${spaced[1]}${spaced[2]}`) !== undefined)
    return ` (no space before the unit: ${spaced[1]}${spaced[2]})`;
  const unit = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(value);
  if (unit === null) return '';
  const [, amount, written] = unit;
  const lower = written.toLowerCase();
  const nginx = NGINX_SUFFIXES[lower];
  if (nginx !== undefined) {
    const [binary, decimal, bytes] = nginx;
    const exact = Number(amount) * bytes;
    return ` (nginx's ${value} is ${amount}${binary}: write ${amount}${binary}, or ${amount}${decimal}${Number.isSafeInteger(exact) ? ` for ${exact} bytes` : ''})`;
  }
  const binary = SIZE_UNITS_BY_CASE[lower];
  if (binary !== undefined) return ` (write ${amount}${binary})`;
  if (lower === 'b') return ` (write ${amount}, or ${amount}B)`;
  const decimal = { kb: 'kB', mb: 'MB', gb: 'GB' }[lower];
  if (decimal !== undefined)
    return ` (write ${amount}${decimal}, decimal, or ${amount}${decimal[0].toUpperCase()}iB, binary)`;
  return '';
}
