/**
 * The few RFC 8941 structured-field serialisations Proxy-Status needs, and the one check of a
 * List another hop wrote (and the parameters pattern a reader of another field's items needs). By hand keeps the hot path free of a general-purpose library.
 */

const TOKEN = /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/;

// RFC 9651 §3.3: integer or decimal, string, token, byte sequence, boolean, date, display string.
// Each alternative begins with its own first character, so matching never backtracks far. An
// integer has at most 15 digits, a decimal at most 12 before its point (§3.3.2: a strict reader
// refuses `1234567890123.5`).
const BARE_ITEM =
  '(?:-?(?:\\d{1,12}\\.\\d{1,3}|\\d{1,15})|"(?:[ !#-\\[\\]-~]|\\\\["\\\\])*"|[A-Za-z*][A-Za-z0-9:/!#$%&\'*+\\-.^_`|~]*' +
  '|:[A-Za-z0-9+/=]*:|\\?[01]|@-?\\d{1,15}|%"(?:[ !#$&-~]|%[0-9a-f]{2})*")';
/** An item's parameters (RFC 9651 §3.1.2), none or more, as a regular expression's source. */
export const PARAMETERS = `(?:; *[a-z*][a-z0-9_\\-.*]*(?:=${BARE_ITEM})?)*`;
// An inner list's spaces after "(" and before ")" belong to one repetition each: written as
// `\( *(?:items)? *\)`, a run of spaces could be split between the two `*` in as many ways as it
// is long, and an upstream's `(` then 32 KiB of spaces took seconds of the worker's loop.
const MEMBER = `(?:${BARE_ITEM}|\\( *(?:${BARE_ITEM}${PARAMETERS}(?: +${BARE_ITEM}${PARAMETERS})* *)?\\))${PARAMETERS}`;
const LIST = new RegExp(`^[ \\t]*${MEMBER}(?:[ \\t]*,[ \\t]*${MEMBER})*[ \\t]*$`);

/** An sf-string: printable ASCII only; anything else becomes "?" so the header stays valid. */
export function sfString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += '\\' + value[i];
    else if (c < 0x20 || c > 0x7e) out += '?';
    else out += value[i];
  }
  return out + '"';
}

/** A bare item that is a token when it can be, else a string (Proxy-Status member names allow both). */
export function sfTokenOrString(value: string): string {
  return TOKEN.test(value) ? value : sfString(value);
}

/**
 * Whether a field value is a List of at least one member (RFC 9651 §4.2.1), one a proxy may
 * append its own member to. An unterminated string in an upstream's Proxy-Status would swallow
 * the member after it, and a strict reader refuses the whole field.
 */
export function isSfList(value: string): boolean {
  return LIST.test(value);
}

/**
 * This hop's Proxy-Status member after the ones before it (`theirs`, the field as received): appended
 * to a List, alone in place of anything else (appended to an unterminated string, it would be read
 * as part of it, and a strict reader drops the whole field).
 */
export function appendSfMember(theirs: string | undefined, member: string): string {
  return theirs !== undefined && isSfList(theirs) ? `${theirs}, ${member}` : member;
}

/**
 * A flat field list with this hop's `member` after the ones the hops behind wrote in the field
 * `name` (lower-cased; its lines joined, as appendSfMember keeps them: before the member when a
 * List, dropped when not), as the field's last line.
 */
export function withSfMember(headers: readonly string[], name: string, member: string): string[] {
  const out: string[] = [];
  let theirs: string | undefined;
  for (let i = 0; i < headers.length; i += 2)
    // Its length first: no lower-cased copy of a field of another name (core/http1's nameIs is not
    // this layer's to import: test/docs/layout.test.ts).
    if (headers[i].length === name.length && headers[i].toLowerCase() === name)
      theirs = theirs === undefined ? headers[i + 1] : `${theirs}, ${headers[i + 1]}`;
    else out.push(headers[i], headers[i + 1]);
  out.push(name, appendSfMember(theirs, member));
  return out;
}
