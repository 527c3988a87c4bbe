import { printableJson } from '../printable.ts';

/**
 * How a found value is shown after "got" in a message: strings quoted, so "5 seconds" reads
 * unambiguously, and with every control character escaped (the message is printed to a terminal).
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return printableJson(JSON.stringify(value));
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  return String(value);
}
