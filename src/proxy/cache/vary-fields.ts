import { trimOws } from '../../core/ows.ts';

/**
 * The list fields a variant is commonly chosen by (Vary: Accept-Encoding, Accept-Language…), and
 * whether their values are case-insensitive throughout: content-codings, language ranges and
 * charsets are (RFC 9110 §8.4.1, §12.5.4, RFC 4647 §2.1); a media type's parameters may not be, so
 * Accept keeps its case.
 */
const LISTS: Readonly<Record<string, boolean>> = {
  'accept-encoding': true,
  'accept-language': true,
  'accept-charset': true,
  accept: false,
};

/**
 * A request's fields as a stored answer's Vary compares them (RFC 9111 §4.1: two requests match
 * when one is the other with whitespace added or removed where the syntax allows it, or values
 * normalised where they are case-insensitive): of the lists above, the OWS around each member and
 * each `;` out, empty members out, and the case-insensitive ones in lowercase, so `gzip,br` is the
 * variant `GZip, br` was stored for. The members' order stays (a server may prefer the first),
 * and a value with a quoted string stays as it is (a comma in quotes is no list's). Only the
 * cache's view: the upstream is sent the client's fields as they came.
 */
export function varyNormal<T extends Record<string, string | string[] | undefined>>(fields: T): T {
  let out: T | undefined;
  for (const name of LIST_NAMES) {
    const value = fields[name];
    if (typeof value !== 'string' || value.includes('"')) continue;
    const normal = normalList(value, LISTS[name]);
    if (normal === value) continue;
    out ??= { ...fields };
    (out as Record<string, string>)[name] = normal;
  }
  return out ?? fields;
}

/**
 * The names a stored answer's Vary lists (its lines joined), each trimmed and in lowercase, in
 * order; an empty element stays, for the caller to pass over.
 */
export function varyNames(vary: unknown): string[] {
  const names = String(vary ?? '').split(',');
  for (let i = 0; i < names.length; i++) names[i] = names[i].trim().toLowerCase();
  return names;
}

/** LISTS' names, made once. */
const LIST_NAMES = Object.keys(LISTS);

function normalList(value: string, lower: boolean): string {
  // One member without parameters (`*/*`, `gzip`): itself without OWS, read without the splits.
  if (!value.includes(',') && !value.includes(';')) {
    const spelled = trimOws(value);
    return lower ? spelled.toLowerCase() : spelled;
  }
  const members: string[] = [];
  for (const member of value.split(',')) {
    const spelled = member
      .split(';')
      .map((part) => trimOws(part))
      .join(';');
    if (spelled !== '') members.push(lower ? spelled.toLowerCase() : spelled);
  }
  return members.join(', ');
}
