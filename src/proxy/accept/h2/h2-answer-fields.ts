/**
 * A response's head and trailers as node:http2 takes them from the HTTP/2 response sink
 * (h2-answer.ts): without connection-specific fields (RFC 9113 §8.2.2), lower-case, sized as
 * the client's SETTINGS_MAX_HEADER_LIST_SIZE counts them (and refused past it), a field node:http2
 * takes once joined.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { Failure } from '../../../core/failure/failure.ts';
import { isHopByHop } from '../../../core/http1/hop-by-hop.ts';

/** What a Date field adds to a head that has none (node:http2 adds one): its name, 29 bytes of value, 32. */
const DATE_FIELD_SIZE = 4 + 29 + 32;

/**
 * A head's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2): each field's name
 * and value and 32 more, pseudo-fields included, with the Date node:http2 adds when none is there.
 */
export function headerListSize(head: readonly string[]): number {
  let size = 0;
  let date = false;
  for (let i = 0; i < head.length; i += 2) {
    size += head[i].length + head[i + 1].length + 32;
    if (head[i] === 'date') date = true;
  }
  return date ? size : size + DATE_FIELD_SIZE;
}

/**
 * A final head as node:http2's respond() takes it raw: `:status` first, then the fields flat with
 * lower-case names and no connection-specific ones (RFC 9113 §8.2.2), repeated ones repeated.
 * Raw, not an object: node:http2 copies an object into one of its own and lists its keys before
 * it serialises it; a flat list it serialises as it is (the checks are the same: a single-value
 * field sent twice is refused either way).
 */
export function h2Head(status: number, flat: readonly string[]): string[] {
  // Made at its full size (with room for the Date node:http2 adds when there is none), then cut
  // to what it holds: pushed one field at a time, it grew twice for a usual answer.
  const head: string[] = new Array(flat.length + 4);
  head[0] = ':status';
  head[1] = String(status);
  let n = 2;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (isHopByHop(name) || name.charCodeAt(0) === 58) continue;
    // RFC 9110 §8.6: a 204 has no Content-Length (nghttp2 refuses one). node:http2 ends a 205's
    // stream with its head (RFC 9110 §15.3.6: no content), and a Content-Length of more than 0
    // with it would make the answer malformed (RFC 9113 §8.1.1): the client resets it unread.
    if ((status === 204 || status === 205) && name === 'content-length') continue;
    head[n++] = name;
    head[n++] = flat[i + 1];
  }
  head.length = n;
  return head;
}

/**
 * A head node:http2 would not send because a field it takes once came twice
 * (ERR_HTTP2_HEADER_SINGLE_VALUE: nginx and the app behind it both adding
 * X-Content-Type-Options, a Date from each hop; HTTP/1.1 carries them as they are): each
 * repeated field given once, a repeat of a value dropped, another value joined to the first with
 * ", ", as a recipient of the HTTP/1.1 field lines may combine them (RFC 9110 §5.3; Fetch reads
 * a repeated Content-Type so). Set-Cookie stays repeated: it cannot be joined (RFC 6265 §3).
 */
export function joinRepeatedFields(head: readonly string[]): string[] {
  const values = new Map<string, string[]>();
  const out: string[] = [];
  for (let i = 0; i < head.length; i += 2) {
    const name = head[i];
    const value = head[i + 1];
    if (name === 'set-cookie') {
      out.push(name, value);
      continue;
    }
    const seen = values.get(name);
    if (seen === undefined) {
      values.set(name, [value]);
      out.push(name, '');
    } else if (!seen.includes(value)) seen.push(value);
  }
  for (let i = 0; i < out.length; i += 2)
    if (out[i] !== 'set-cookie') out[i + 1] = (values.get(out[i]) as string[]).join(', ');
  return out;
}

/**
 * A final head (h2Head's, `:status` first) as an object, for a node:http2 whose respond() takes
 * no raw list (h2-stream-writes.ts): a repeated field as an array, in its order.
 */
export function headObject(head: readonly string[]): OutgoingHttpHeaders {
  const fields: OutgoingHttpHeaders = Object.create(null);
  for (let i = 0; i < head.length; i += 2) {
    const name = head[i];
    const present = fields[name];
    if (present === undefined) fields[name] = head[i + 1];
    else if (Array.isArray(present)) present.push(head[i + 1]);
    else fields[name] = [String(present), head[i + 1]];
  }
  return fields;
}

/**
 * Flat fields as node:http2 takes them in an object: lower-case names, repeated ones as arrays, no
 * connection-specific ones. The object has no prototype (`into` must have none either): a field
 * named `constructor` or `__proto__` is a field, not a property already there.
 */
export function h2Fields(
  flat: readonly string[],
  into: OutgoingHttpHeaders = Object.create(null),
): OutgoingHttpHeaders {
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (isHopByHop(name) || name.charCodeAt(0) === 58) continue;
    const value = flat[i + 1];
    const present = into[name];
    if (present === undefined) into[name] = value;
    else if (Array.isArray(present)) present.push(value);
    else into[name] = [String(present), value];
  }
  return into;
}

/**
 * A head (as h2Head made it) larger than the client takes (`limit`, its SETTINGS_MAX_HEADER_LIST_SIZE;
 * Infinity: it set none): its `client_header_list_size` failure.
 */
export function headPastClient(status: number, head: readonly string[], limit: number): Failure | undefined {
  // Browsers say a limit (256 KiB; h2load and node:http2's client none): the sum is a few additions a field.
  if (limit === Number.POSITIVE_INFINITY) return undefined;
  const size = headerListSize(head);
  if (size <= limit) return undefined;
  return new Failure(
    'client_header_list_size',
    `the ${status} response head is ${size} bytes as HTTP/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of ${limit}`,
    { stage: 'head_received' },
  );
}

/**
 * A trailer section larger than the client's SETTINGS_MAX_HEADER_LIST_SIZE (`limit`): the client
 * would reset the stream on reading it, after the stream had closed on this side (a reset nghttp2
 * ignores), and the log would have the answer whole. The response is cut instead, and says why.
 */
export function trailersPastClient(
  trailers: readonly string[] | undefined,
  limit: number,
): string | undefined {
  if (trailers === undefined || trailers.length === 0 || limit === Number.POSITIVE_INFINITY) return undefined;
  let size = 0;
  for (let i = 0; i < trailers.length; i += 2) size += trailers[i].length + trailers[i + 1].length + 32;
  if (size <= limit) return undefined;
  return `the trailer section is ${size} bytes as HTTP/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of ${limit}: the stream was cut`;
}
