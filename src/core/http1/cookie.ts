import { trimOws } from './syntax.ts';

/** The first cookie of this name in a Cookie header (RFC 6265 §5.4: "a=1; b=2"), as sent. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (text === undefined) return undefined;
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && trimOws(pair.slice(0, eq)) === name) {
      const value = trimOws(pair.slice(eq + 1));
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/**
 * Every cookie of this name in a Cookie header, in order, as sent (an empty one as ''): a client
 * may send one name twice, and a reader may take either (Django and http.cookies the last).
 */
export function cookieValues(header: string | string[] | undefined, name: string): string[] {
  const text = Array.isArray(header) ? header.join('; ') : header;
  const values: string[] = [];
  if (text === undefined) return values;
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && trimOws(pair.slice(0, eq)) === name) values.push(trimOws(pair.slice(eq + 1)));
  }
  return values;
}

/** The names of a Cookie header's cookies that begin with `prefix`, in the order sent (for one path, the oldest first: RFC 6265 §5.4). */
export function cookieNamesStarting(header: string | string[] | undefined, prefix: string): string[] {
  const text = Array.isArray(header) ? header.join('; ') : header;
  const names: string[] = [];
  if (text === undefined) return names;
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    const name = trimOws(eq === -1 ? pair : pair.slice(0, eq));
    if (name.startsWith(prefix)) names.push(name);
  }
  return names;
}

/**
 * A Cookie header's value without the cookies of this name but one whose value is `keep`
 * (undefined: none kept), nor any cookie of another name PHP reads as this one (phpCookieKey);
 * the other cookies as sent, in order, "; " between them. Empty when nothing is left.
 */
export function withoutCookie(header: string, name: string, keep: string | undefined): string {
  const out: string[] = [];
  const key = phpCookieKey(name);
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1) {
      const named = trimOws(pair.slice(0, eq));
      if (named === name ? trimOws(pair.slice(eq + 1)) !== keep : phpCookieKey(named) === key) continue;
    }
    const trimmed = trimOws(pair);
    if (trimmed !== '') out.push(trimmed);
  }
  return out.join('; ');
}

/**
 * A cookie's name as PHP's `$_COOKIE` keys it (php_register_variable_ex): leading spaces
 * dropped, ` ` and `.` made `_`, and a `[` with no `]` after it made `_` with every ` `, `.` and
 * `[` past it; a name with `[…]` is an array's, keyed by no name (undefined). PHP keeps the
 * first cookie of a key, so `access.token=…` sent before `access_token=…` is what an app reads
 * as `access_token`: to a gateway that checked `access_token`'s value, another cookie.
 */
export function phpCookieKey(name: string): string | undefined {
  const bare = name.replace(/^ +/, '');
  const bracket = bare.indexOf('[');
  if (bracket === -1) return bare.replace(/[ .]/g, '_');
  if (bare.indexOf(']', bracket + 1) !== -1) return undefined;
  return `${bare.slice(0, bracket).replace(/[ .]/g, '_')}_${bare.slice(bracket + 1).replace(/[ .[]/g, '_')}`;
}
