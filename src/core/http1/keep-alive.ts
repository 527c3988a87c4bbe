/**
 * The parameters of a response's `Keep-Alive` field (`timeout=5, max=100`). RFC 9112 does not
 * define the field; it is the de-facto hint of how long, and for how many more requests, the
 * server keeps the connection (Node and Apache send it). A hint only: whatever is malformed is
 * read as not said, and the field is hop-by-hop (hop-by-hop.ts), never forwarded.
 */
import { isOws } from './syntax.ts';

/**
 * At most this many digits: a billion seconds is far past any pool's idle_timeout, and a longer
 * number (or one past 2^53) is garbage, not a promise to keep the connection longer.
 */
const MAX_DIGITS = 9;

/**
 * The value of parameter `name` (lowercase letters) in a Keep-Alive field value, or `found` when
 * no member of the list gives it as a whole number; `found` is what the field lines before said
 * (-1: nothing). Names are case-insensitive, OWS may surround the `=`, the number may be quoted
 * (auth-param style): leniency is safe, since a hint read can only shorten how long the
 * connection is kept. Said twice (`timeout=5, timeout=1`, or in two field lines): the smaller, the
 * safe reading of either. Scans the string in place: nothing is allocated, even for a hint.
 */
export function keepAliveParam(value: string, name: string, found = -1): number {
  const n = value.length;
  let start = 0;
  while (start < n) {
    let end = value.indexOf(',', start);
    if (end === -1) end = n;
    const v = memberValue(value, start, end, name);
    if (v !== -1 && (found === -1 || v < found)) found = v;
    start = end + 1;
  }
  return found;
}

/** One list member, `value[start..end)`: `OWS name OWS "=" OWS ( 1*DIGIT / DQUOTE 1*DIGIT DQUOTE ) OWS`, or -1. */
function memberValue(value: string, start: number, end: number, name: string): number {
  let i = start;
  while (i < end && isOws(value.charCodeAt(i))) i++;
  if (end - i < name.length) return -1;
  for (let k = 0; k < name.length; k++, i++)
    if ((value.charCodeAt(i) | 0x20) !== name.charCodeAt(k)) return -1;
  while (i < end && isOws(value.charCodeAt(i))) i++;
  if (i === end || value.charCodeAt(i) !== 0x3d) return -1;
  i++;
  while (i < end && isOws(value.charCodeAt(i))) i++;
  let last = end;
  while (last > i && isOws(value.charCodeAt(last - 1))) last--;
  if (last - i >= 2 && value.charCodeAt(i) === 0x22 && value.charCodeAt(last - 1) === 0x22) {
    i++;
    last--;
  }
  if (i === last || last - i > MAX_DIGITS) return -1;
  let v = 0;
  for (; i < last; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
