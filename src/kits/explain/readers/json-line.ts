/** Small readers of one JSON log line's values, shared by the JSON formats' readers. */

/** The object a line holds, or undefined for anything else (cut, garbled, an array, null). */
export function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = oneLine(line, JSON.parse(line));
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** An object member, or undefined when it is not an object. */
export function objectAt(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export const finiteNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

export const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** An ISO 8601 date with its zone, as epoch ms. */
export function isoTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * `parsed`, the JSON of `line`, with each newline in its strings written `\\n`: JSON carries a
 * newline in a string as an escape, so a value of a JSON log (an upstream's name, a target) can
 * hold one where a text log's cannot, and the text report printed it as a line break, beginning
 * a line of the log's choosing (the report's printable() keeps its own newlines, escaping every
 * other control character). Only a line that writes an escape of one walks its values.
 */
export function oneLine<T>(line: string, parsed: T): T {
  return line.includes('\\n') || line.includes('\\u000') ? (withoutNewlines(parsed) as T) : parsed;
}

function withoutNewlines(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\n') ? value.replaceAll('\n', '\\n') : value;
  if (value === null || typeof value !== 'object') return value;
  const members = value as Record<string, unknown>;
  for (const key of Object.keys(members)) members[key] = withoutNewlines(members[key]);
  return value;
}
