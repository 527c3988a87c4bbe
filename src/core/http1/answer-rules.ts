/**
 * What a response's head may say about its body and its switch, as the strict response parser
 * (answer-parser.ts) reads it: Content-Length (a list of one value), Transfer-Encoding (the
 * codings under a final `chunked`), the one canonical Content-Length passed on, and whether a
 * 101 switches to a protocol the request offered, as a switch must be announced. The request side's rules are request-rules.ts.
 */
import { isOws, listMembers, nameIs, snippet, trimOws } from './syntax.ts';

/** The transfer codings Candor undoes itself (zlib's): `x-gzip` is read as `gzip` (RFC 9110 §8.4.1.3). */
export type DecodableCoding = 'gzip' | 'deflate';

/**
 * At most this many codings under `chunked`: each costs a zlib stream (some 40 KiB) for the
 * whole body, and no real server stacks more than one.
 */
const MAX_DECODED_CODINGS = 2;

/**
 * Content-Length as 1#(1*DIGIT): the value, -1 when malformed, -2 when over MAX_SAFE_INTEGER, -3 when
 * list members differ. Identical members are one value (RFC 9110 §8.6).
 */
export function parseContentLength(value: string): number {
  const n = value.length;
  let result = -1;
  let i = 0;
  for (;;) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    let v = 0;
    for (; i < n; i++) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      if (v > Number.MAX_SAFE_INTEGER) return -2;
    }
    if (i === start) return -1;
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (result !== -1 && v !== result) return -3;
    result = v;
    if (i === n) return result;
    if (value.charCodeAt(i) !== 0x2c) return -1;
    i++;
  }
}

export const NO_CODINGS: DecodableCoding[] = [];

/**
 * A Transfer-Encoding list (RFC 9112 §6.1): the codings under the final `chunked`, in the order
 * to undo them, or why it cannot be relayed. `chunked` must come last and once (anything else
 * leaves the body's end unknown or doubly framed); the others must be codings zlib undoes.
 */
export function transferCodings(value: string): DecodableCoding[] | string {
  // The usual case without allocating.
  if (nameIs(trimOws(value), 'chunked')) return NO_CODINGS;
  const members: string[] = [];
  for (const part of value.split(',')) {
    const member = trimOws(part);
    // RFC 9110 §5.6.1.2: empty list elements are ignored.
    if (member !== '') members.push(member);
  }
  const last = members.length - 1;
  if (last < 0) return 'empty Transfer-Encoding';
  if (members[last].toLowerCase() !== 'chunked')
    return `Transfer-Encoding ${snippet(value)} does not end in chunked`;
  const decode: DecodableCoding[] = [];
  for (let i = last - 1; i >= 0; i--) {
    const coding = members[i].toLowerCase();
    if (coding === 'chunked') return 'chunked applied more than once';
    if (coding === 'gzip' || coding === 'x-gzip') decode.push('gzip');
    else if (coding === 'deflate') decode.push('deflate');
    else return `unsupported transfer coding ${snippet(members[i])}`;
  }
  if (decode.length > MAX_DECODED_CODINGS)
    return `more than ${MAX_DECODED_CODINGS} transfer codings under chunked`;
  return decode;
}

/**
 * The fields without Content-Length, for the heads that must not carry one (1xx, 204: RFC 9110
 * §8.6; over HTTP/2 a 1xx with one is a malformed answer, RFC 9113 §8.1.1), which an upstream
 * may have sent; the same list when it has none (the usual case).
 */
export function withoutLength(headers: readonly string[]): readonly string[] {
  let kept: string[] | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (nameIs(headers[i], 'content-length')) kept ??= headers.slice(0, i);
    else kept?.push(headers[i], headers[i + 1]);
  }
  return kept ?? headers;
}

/** Leaves one Content-Length field, where the first was, holding the value in canonical form. */
export function normaliseContentLength(headers: string[], value: number): void {
  let kept = false;
  let to = 0;
  for (let from = 0; from < headers.length; from += 2) {
    const name = headers[from];
    if (name.length === 14 && nameIs(name, 'content-length')) {
      if (kept) continue;
      kept = true;
      headers[to] = name;
      headers[to + 1] = String(value);
    } else {
      headers[to] = name;
      headers[to + 1] = headers[from + 1];
    }
    to += 2;
  }
  headers.length = to;
}

/**
 * Why a 101 may not open a tunnel, or undefined when it may: it must come in HTTP/1.1 (`minor`:
 * the status line's), name the protocols it switches to in an Upgrade field, each one the
 * request offered, and send that field with the `upgrade` option in Connection (RFC 9110 §7.8:
 * MUSTs of the server). Upgrade is HTTP/1.1's: an HTTP/1.0 server ignores the field (RFC 9110
 * §7.8) and has no 1xx (§15.2), so its 101 switches nothing it understood, and the gateway's
 * own 101, always HTTP/1.1, would pass it off as a whole handshake. A switch to anything
 * else (h2c, which the gateway never offers) would hand the client a tunnel the gateway cannot
 * read; one without the option is a handshake a WebSocket client fails (RFC 6455 §4.1), which
 * the gateway's own 101, always with `Connection: upgrade`, would make look whole. Protocols and
 * options compare case-insensitively; a protocol's version too when both sides name one (`foo/2`
 * to an offer of `foo/1` is a protocol the client did not list, RFC 9110 §7.8's MUST NOT).
 */
export function switchRefusal(headers: readonly string[], offer: string, minor: number): string | undefined {
  if (minor === 0) return "101 Switching Protocols in an HTTP/1.0 response (Upgrade is HTTP/1.1's)";
  const offered = listMembers(offer);
  let named = false;
  let option = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (nameIs(headers[i], 'connection')) option ||= listMembers(headers[i + 1]).includes('upgrade');
    if (!nameIs(headers[i], 'upgrade')) continue;
    for (const protocol of listMembers(headers[i + 1])) {
      named = true;
      if (!offered.some((offer) => sameProtocol(offer, protocol)))
        return `101 Switching Protocols to ${snippet(protocol)}, which the request did not offer`;
    }
  }
  if (!named) return '101 Switching Protocols without an Upgrade field';
  return option ? undefined : '101 Switching Protocols without the upgrade option in Connection';
}

/**
 * Whether two lower-cased protocols (`name[/version]`) are one: the same name, and the same
 * version unless one of them names none (an offer of `foo` takes any version of it, and a
 * switch to `foo` contradicts no version offered).
 */
function sameProtocol(offer: string, protocol: string): boolean {
  if (offer === protocol) return true;
  const offerSlash = offer.indexOf('/');
  const slash = protocol.indexOf('/');
  if (offerSlash !== -1 && slash !== -1) return false;
  const offerName = offerSlash === -1 ? offer : offer.slice(0, offerSlash);
  return offerName === (slash === -1 ? protocol : protocol.slice(0, slash));
}
