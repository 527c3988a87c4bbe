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
  return eachQuotedString(message, (text, quoted) => {
    if (quoted.length - 2 <= QUOTED_CHARACTERS) return quoted;
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
  if (typeof value === 'string') return printableJson(JSON.stringify(value)).replace(UNSEEN, unseenEscaped);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  return String(value);
}

/**
 * What a terminal shows as nothing or as a plain space, a value's difference all the same: the
 * format characters (a zero-width space, a soft hyphen, a byte-order mark) and the spaces but
 * U+0020 (a no-break space). Quoted raw, `got "r\u200b1"` read as `got "r1"`, and `"/a\u00a0"`
 * as `"/a "`.
 */
const UNSEEN = /[\p{Cf}\p{Z}]/gu;

/** A character as JSON's \u escapes, each UTF-16 unit of it; U+0020 as it is. */
const unseenEscaped = (char: string): string =>
  char === ' '
    ? char
    : Array.from(
        { length: char.length },
        (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`,
      ).join('');

/** A URL's userinfo with a password: what is before the password, and the password. */
const PASSWORD = /^([^:/]*:\/\/[^:/@]*):([^/]*)@/;
/** The same in a URL that does not parse, which a `/` in its password (base64's, unescaped) makes so: up to its last `@`. */
const UNPARSED_PASSWORD = /^([^:/]*:\/\/[^:/@]*):(.*)@/s;

/**
 * A URL as a message or GET /config may show it: the password of its userinfo (`redis://:pw@host`,
 * `redis://user:pw@host`) as `***`, whether or not the rest of it parses; the user name stays.
 */
export function withoutPassword(text: string): string {
  return text.replace(passwordIn(text), '$1:***@');
}

/**
 * Where the password is: up to the last `@` once there is one. A password's unescaped `@` then
 * `/` (`redis://:s3c@r/et@host`) parses as a password `s3c` of host `r`, and the parser's
 * password alone hid only its first characters, the rest quoted in a refused reload's log line.
 * A URL that parses with no password has none to hide: PASSWORD, which finds none there, is
 * what it gets (UNPARSED_PASSWORD would take a port's colon for one, `http://h:8080/a@b`).
 */
function passwordIn(text: string): RegExp {
  const parsedWithout = URL.canParse(text) && !PASSWORD.test(text);
  return parsedWithout ? PASSWORD : UNPARSED_PASSWORD;
}

/** A password the environment gave, as a problem shows it once env-templates.ts made it `${NAME}` again. */
const TEMPLATE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/**
 * `message` with the password of each URL it quotes as `***` (a problem is logged by a refused
 * reload and returned by the admin API, and GET /config keeps such a password from both), but
 * one the environment gave, which reads `${NAME}` by now: that names where it is, not what.
 */
export function hidePasswords(message: string): string {
  if (!message.includes('@')) return message;
  return eachQuotedString(message, (text, quoted) => {
    const hidden = text.replace(passwordIn(text), (whole, before, password) =>
      TEMPLATE.test(password) ? whole : `${before}:***@`,
    );
    return hidden === text ? quoted : printableJson(JSON.stringify(hidden));
  });
}

/**
 * `message` with each string it quotes as JSON (`"…"`) replaced by what `change` makes of it (the
 * string, and the quote as written); a quote that is no JSON string stays as it is.
 */
function eachQuotedString(message: string, change: (text: string, quoted: string) => string): string {
  return message.replace(QUOTED, (quoted) => {
    let text: unknown;
    try {
      text = JSON.parse(quoted);
    } catch {
      return quoted;
    }
    return typeof text === 'string' ? change(text, quoted) : quoted;
  });
}
