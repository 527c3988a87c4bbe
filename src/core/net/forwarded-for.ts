/**
 * The `for=` of each element of a `Forwarded` field (RFC 7239 §4): what a proxy that writes
 * only `Forwarded` says about the client, read by trust.ts's walk as X-Forwarded-For's
 * entries are (and its `proto=`, by forwarded-proto.ts). One pass over the value; a comma or
 * semicolon inside a quoted-string (`host="a,b"`) splits nothing.
 */
import { trimOws } from '../ows.ts';

/**
 * Each element's `for=` node, in order, unquoted (`"[2001:db8::1]:4711"` → `[2001:db8::1]:4711`);
 * '' for an element without one, or one that cannot be read (a parameter twice: RFC 7239 §4 says
 * it MUST NOT be, and read as either value the client would be whichever a parser picks). A
 * value whose quoted-string never ends gives a last '' (the element its proxy wrote cannot be
 * read), so nothing left of it is taken for that proxy's word.
 *
 * @example forwardedForNodes('for=192.0.2.60;proto=http, for="[2001:db8::7]";by=_x') // ['192.0.2.60', '[2001:db8::7]']
 */
export function forwardedForNodes(value: string): string[] {
  return forwardedParams(value, 'for=');
}

/** A field's lines (FieldMap keeps a repeated field as a list) as the one comma-separated list they make (RFC 9110 §5.3). */
export const joinedLines = (value: string | readonly string[]): string =>
  typeof value === 'string' ? value : value.join(',');

/** Each element's value of the parameter `key` (its name, lower-case, and `=`), as forwardedForNodes reads `for=`. */
export function forwardedParams(value: string, key: string): string[] {
  const nodes: string[] = [];
  eachElement(value, (pairs) => {
    let node = '';
    for (const pair of pairs ?? []) node = paramOf(pair, key) ?? node;
    nodes.push(node);
  });
  return nodes;
}

/**
 * A trusted proxy's Forwarded as it goes on, this hop's element appended after it: as written,
 * but for an element that cannot be read, said `for=unknown`. One whose quoted-string never ends
 * (`for="`, a client's, which HAProxy and nginx pass on untouched) would swallow the element
 * appended after it: an upstream reading the last element, this hop's, would read the client's
 * parameters instead (`x="` joined with `, for=…;proto=http` is one element, its `for=` the
 * client's). One with a parameter twice would be read as either value (its `host=`, the one an
 * app builds its links from, unkeyed by the cache, forwarded-key.ts).
 *
 * @example readableElements('for=192.0.2.1, for="[2001:db8::7]') // 'for=192.0.2.1, for=unknown'
 */
export function readableElements(value: string): string {
  const elements: string[] = [];
  let changed = false;
  eachElement(value, (pairs, text) => {
    const element = trimOws(text);
    // An empty element (an empty line beside another, a trailing comma) names no client, as
    // forwardedAsForList and trust.ts read it: said so, never sent on as an empty list member
    // (RFC 9110 §5.6.1.1: a sender MUST NOT generate one).
    const unread = pairs === undefined || element === '';
    changed ||= unread;
    elements.push(unread ? 'for=unknown' : element);
  });
  return changed ? elements.join(', ') : value;
}

/**
 * A trusted proxy's X-Forwarded-For as it goes on: as written, but for an empty entry (an empty
 * line beside another, a trailing comma), said `unknown`: trust.ts's walk reads it as naming no
 * address (`{client_ip}` is then `unknown`), and sent on as an empty list member, which RFC 9110
 * §5.6.1.1 forbids a sender, an app reading the list (Express's proxy-addr) took `''` for the client.
 *
 * @example namedEntries('203.0.113.7,') // '203.0.113.7, unknown'
 */
export function namedEntries(value: string): string {
  const entries = value.split(',');
  let empty = false;
  for (let i = 0; i < entries.length; i++) {
    entries[i] = trimOws(entries[i]);
    if (entries[i] === '') {
      entries[i] = 'unknown';
      empty = true;
    }
  }
  return empty ? entries.join(', ') : value;
}

/**
 * Calls `element` with each element of a Forwarded value, in order: its pairs (`name=value`, as
 * written), undefined when it cannot be read (its quoted-string never ends, the value's last; a
 * parameter's name twice), and its text. One pass; a comma or semicolon inside a quoted-string
 * (`host="a,b"`) splits nothing.
 */
function eachElement(value: string, element: (pairs: string[] | undefined, text: string) => void): void {
  let pairs: string[] = [];
  let names = '';
  let twice = false;
  let from = 0;
  let start = 0;
  const pair = (to: number) => {
    const text = value.slice(start, to);
    pairs.push(text);
    const equals = text.indexOf('=');
    const name = trimOws(equals === -1 ? text : text.slice(0, equals)).toLowerCase();
    if (name === '') return;
    // Names are tokens (no `;`): `;name;` is found only as a whole name.
    twice ||= names.includes(`;${name};`);
    names += `;${name};`;
  };
  const end = (to: number, open: boolean) => {
    element(open || twice ? undefined : pairs, value.slice(from, to));
    pairs = [];
    names = '';
    twice = false;
    from = to + 1;
  };
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3b /* ; */ || c === 0x2c /* , */) {
      pair(i);
      start = i + 1;
      if (c === 0x2c) end(i, false);
    }
  }
  if (!quoted) pair(value.length);
  end(value.length, quoted);
}

/** A pair's value when it is `key` (`for=`, the name in any case), unquoted; undefined for any other pair. */
function paramOf(pair: string, key: string): string | undefined {
  const text = trimOws(pair);
  if (text.length < key.length || text.slice(0, key.length).toLowerCase() !== key) return undefined;
  const raw = text.slice(key.length);
  if (raw.length < 2 || raw.charCodeAt(0) !== 0x22 || raw.charCodeAt(raw.length - 1) !== 0x22) return raw;
  return raw.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** "203.0.113.9:4711" and "[2001:db8::1]:4711" (some proxies write the client's port) as the address alone. */
export function withoutPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end === -1 ? entry : entry.slice(1, end);
  }
  const colon = entry.indexOf(':');
  return colon !== -1 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}

/** What RFC 7239 §6 allows a node to be: an IPv4 or bracketed IPv6 address, `unknown` or an obfuscated name, a port after it. */
const NODE = /^[A-Za-z0-9._:[\]-]+$/;

/**
 * A trusted proxy's `Forwarded` said as X-Forwarded-For's list, for the upstream of a proxy that
 * wrote only `Forwarded` (RFC 7239): each element's node, its address alone (no brackets, no port),
 * an obfuscated one (`_hidden`) or `unknown` as written; an element without `for=`, or whose node
 * is no node (a quoted `for="a, b"` a client wrote, which would be two entries here), `unknown`.
 * Apps that read X-Forwarded-For (Express, Django, Rails) then see the client the gateway judged.
 *
 * @example forwardedAsForList('for=192.0.2.60;proto=https, for="[2001:db8::7]:4711"') // '192.0.2.60, 2001:db8::7'
 */
export function forwardedAsForList(value: string): string {
  return forwardedForNodes(value)
    .map((node) => (NODE.test(node) ? withoutPort(node) : 'unknown'))
    .join(', ');
}
