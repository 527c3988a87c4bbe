/**
 * The `for=` of each element of a `Forwarded` field (RFC 7239 §4): what a proxy that writes
 * only `Forwarded` says about the client, read by trust.ts's walk as X-Forwarded-For's
 * entries are (and its `proto=`, by forwarded-proto.ts). One pass over the value; a comma or
 * semicolon inside a quoted-string (`host="a,b"`) splits nothing.
 */
import { trimOws } from '../ows.ts';

/**
 * Each element's `for=` node, in order, unquoted (`"[2001:db8::1]:4711"` → `[2001:db8::1]:4711`);
 * '' for an element without one. A value whose quoted-string never ends gives a last '' (the
 * element its proxy wrote cannot be read), so nothing left of it is taken for that proxy's word.
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
  let node = '';
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3b /* ; */ || c === 0x2c /* , */) {
      node = paramOf(value.slice(start, i), key) ?? node;
      start = i + 1;
      if (c === 0x2c) {
        nodes.push(node);
        node = '';
      }
    }
  }
  nodes.push(quoted ? '' : (paramOf(value.slice(start), key) ?? node));
  return nodes;
}

/** A pair's value when it is `key` (`for=`, the name in any case), unquoted; undefined for any other pair. */
function paramOf(pair: string, key: string): string | undefined {
  const text = trimOws(pair);
  if (text.length < key.length || text.slice(0, key.length).toLowerCase() !== key) return undefined;
  const raw = text.slice(key.length);
  if (raw.length < 2 || raw.charCodeAt(0) !== 0x22 || raw.charCodeAt(raw.length - 1) !== 0x22) return raw;
  return raw.slice(1, -1).replace(/\\(.)/g, '$1');
}
