/**
 * The byte-level pieces of HTTP/1.1 syntax both strict parsers read with (request-parser.ts
 * from clients, answer-parser.ts from upstreams): kept in one place so the two cannot drift
 * on what a token, a hex digit or optional whitespace is.
 */
import { trimOws } from '../ows.ts';

export const CR = 0x0d;
export const LF = 0x0a;
export const CRLF = Buffer.from('\r\n', 'latin1');
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** tchar (RFC 9110 §5.6.2). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** tchar by byte: 1 for a token character, 0 for anything else (TOKEN's class, for byte-level scanners). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) {
  TCHAR[c] = 1;
  TCHAR[c + 0x20] = 1;
}

/** Hex digit values by byte, -1 for anything else. */
export const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

export { hasOuterOws, isOws, trimOws } from '../ows.ts';

/**
 * A list field's value as this hop sends it on: its members as they came (case kept), without
 * OWS and without the empty ones a sender MUST NOT generate (RFC 9110 §5.6.1.1), which an empty
 * line beside another (`Upgrade: ` and `Upgrade: websocket`, joined) would make.
 */
export function listValue(value: string): string {
  let out = '';
  for (const part of value.split(',')) {
    const member = trimOws(part);
    if (member !== '') out = out === '' ? member : `${out}, ${member}`;
  }
  return out;
}

/**
 * A received list with this hop's member appended (`Via`: RFC 9110 §7.6.3), the received one's
 * empty members dropped, which an empty line beside another or a line's trailing comma would
 * make in what this hop sends (`Via: , 1.1 cdn,, 1.1 edge`; RFC 9110 §5.6.1.1: a sender MUST NOT
 * generate them). A comma inside a comment or a quoted-string (`1.1 cdn (Squid, 6)`) ends no
 * member; a list without empty members goes on as it came.
 */
export function appendListMember(received: string | undefined, member: string): string {
  if (received === undefined) return member;
  let out = '';
  let from = 0;
  let depth = 0;
  let quoted = false;
  let empty = false;
  const take = (to: number) => {
    const part = trimOws(received.slice(from, to));
    if (part !== '') out = out === '' ? part : `${out}, ${part}`;
    else empty = true;
    from = to + 1;
  };
  for (let i = 0; i < received.length; i++) {
    const c = received.charCodeAt(i);
    if ((quoted || depth > 0) && c === 0x5c)
      i++; // quoted-pair
    else if (quoted) quoted = c !== 0x22;
    else if (c === 0x22) quoted = true;
    else if (c === 0x28) depth++;
    else if (c === 0x29 && depth > 0) depth--;
    else if (c === 0x2c && depth === 0) take(i);
  }
  take(received.length);
  if (!empty) return `${received}, ${member}`;
  return out === '' ? member : `${out}, ${member}`;
}

/** Each member of a comma-separated list, without OWS, lowercased, empty ones dropped (RFC 9110 §5.6.1.2). */
export function listMembers(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const member = trimOws(part).toLowerCase();
    if (member !== '') out.push(member);
  }
  return out;
}

/** Controls other than HTAB, and DEL: never in a field value (RFC 9110 §5.5). */
export const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** A byte a field value (or a reason phrase) may hold: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5); INVALID_VALUE's complement. */
export function isValueByte(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}

interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
}
// Buffer#latin1Slice skips toString()'s encoding dispatch; it is undocumented, so fall back if it goes away.
const hasLatin1Slice =
  typeof (Buffer.prototype as unknown as Partial<Latin1Sliceable>).latin1Slice === 'function';

/** Bytes as one character each (field values may hold obs-text: no UTF-8 decoding). */
export function latin1(buf: Buffer, start: number, end: number): string {
  return hasLatin1Slice
    ? (buf as unknown as Latin1Sliceable).latin1Slice(start, end)
    : buf.toString('latin1', start, end);
}

/**
 * Whether a field name equals a lowercase name (letters, digits and '-'), ignoring ASCII case,
 * without allocating: among a token's characters, (c | 0x20) matches only the same character
 * in either case (a CR or a control would match '-' or a digit, and a name holds neither).
 */
export function nameIs(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++)
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * A request's own text (its path, its host) in a failure's details, as it is up to 256
 * characters, then cut ("..."): the details go out in the gateway's answer (Proxy-Status), whose
 * head a client must still read (Node's takes 16 KiB, gRPC suggests 8 KiB) when the path is as
 * long as limits.uri_length lets it be. The log line has the whole path.
 */
export function clipped(s: string): string {
  return s.length > 256 ? `${s.slice(0, 256)}...` : s;
}

/** A peer's text for a failure's details: short, printable ASCII only (it ends up in answers, headers and logs). */
export function snippet(s: string): string {
  const cut = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  return `"${cut.replace(/[^\x20-\x7e]|["\\]/g, '?')}"`;
}
