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

/**
 * A Cookie header's value without the cookies of this name but one whose value is `keep`
 * (undefined: none kept); the other cookies as sent, in order, "; " between them. Empty when
 * nothing is left.
 */
export function withoutCookie(header: string, name: string, keep: string | undefined): string {
  const out: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && trimOws(pair.slice(0, eq)) === name && trimOws(pair.slice(eq + 1)) !== keep) continue;
    const trimmed = trimOws(pair);
    if (trimmed !== '') out.push(trimmed);
  }
  return out.join('; ');
}
