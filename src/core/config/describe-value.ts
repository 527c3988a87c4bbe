import { printableJson } from '../printable.ts';

/**
 * A problem is printed by `candor check`, logged by a refused reload and returned by the admin
 * API: past this many characters the value it quotes is cut, so a megabyte pasted into one
 * field is not a megabyte in each of them. Enough to recognise any value a field takes.
 */
const QUOTED_CHARACTERS = 100;

/** `text` as JSON, its first QUOTED_CHARACTERS code points only (never half a pair), and its length when cut. */
function quoted(text: string): string {
  if (text.length <= QUOTED_CHARACTERS) return printableJson(JSON.stringify(text));
  let head = '';
  let count = 0;
  for (const char of text) {
    if (count < QUOTED_CHARACTERS) head += char;
    count++;
  }
  if (count <= QUOTED_CHARACTERS) return printableJson(JSON.stringify(text));
  return `${printableJson(JSON.stringify(head))}… (${count} characters)`;
}

/**
 * How a found value is shown after "got" in a message: strings quoted, so "5 seconds" reads
 * unambiguously, and with every control character escaped (the message is printed to a terminal).
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return quoted(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  return String(value);
}
