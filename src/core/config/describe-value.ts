import { printableJson } from '../printable.ts';

/**
 * A problem is printed by `candor check`, logged by a refused reload and returned by the admin
 * API: past this many characters a value it quotes is cut, so a megabyte pasted into one field
 * is not a megabyte in each of them. Enough to recognise any value a field takes.
 */
const QUOTED_CHARACTERS = 100;

/** A JSON string in a message (what describeValue and JSON.stringify write): linear, no backtracking. */
const QUOTED = /"(?:[^"\\]|\\.)*"/g;

/**
 * `message` with each quoted value past QUOTED_CHARACTERS cut to its first ones (never half a
 * pair), with its length. Run on the finished message, once each value the environment gave
 * reads `${NAME}` (env-templates.ts): cut before, a secret would show as its first characters.
 *
 * @example cutLongQuotes(`got "${'1'.repeat(300)}"`) // 'got "111…111"… (300 characters)' (100 ones)
 */
export function cutLongQuotes(message: string): string {
  return message.replace(QUOTED, (quoted) => {
    if (quoted.length - 2 <= QUOTED_CHARACTERS) return quoted;
    let text: unknown;
    try {
      text = JSON.parse(quoted);
    } catch {
      return quoted;
    }
    if (typeof text !== 'string') return quoted;
    let head = '';
    let count = 0;
    for (const char of text) {
      if (count < QUOTED_CHARACTERS) head += char;
      count++;
    }
    return count <= QUOTED_CHARACTERS
      ? quoted
      : `${printableJson(JSON.stringify(head))}… (${count} characters)`;
  });
}

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

/**
 * A URL as a message or GET /config may show it: the password of its userinfo (`redis://:pw@host`,
 * `redis://user:pw@host`) as `***`, whether or not the rest of it parses; the user name stays.
 * One that does not parse may fail for its password (a `/` in it, unescaped, as base64 writes
 * them, ends the authority there): everything up to its last `@` is hidden then.
 */
export function withoutPassword(text: string): string {
  return URL.canParse(text)
    ? text.replace(/^([^:/]*:\/\/[^:/@]*):[^/]*@/, '$1:***@')
    : text.replace(/^([^:/]*:\/\/[^:/@]*):.*@/s, '$1:***@');
}
