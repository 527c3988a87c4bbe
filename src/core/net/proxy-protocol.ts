/**
 * The PROXY protocol header a TCP load balancer puts before a connection's first byte to say
 * whom the connection is really from (HAProxy's spec, versions 1 and 2). Strict and bounded:
 * v1 is one line of at most 107 bytes with exactly the fields the spec names; v2 is a 16-byte
 * head and at most V2_MAX_LENGTH bytes after it, its TLVs filling it exactly, its CRC32C TLV
 * (when it has one) holding. Anything else is refused, never guessed at.
 */
import net from 'node:net';
import { crc32c } from './crc32c.ts';
import { canonicalIPv6 } from './ip-address.ts';

/** v1's longest line, "\r\n" included (the spec's own bound). */
export const V1_MAX_LENGTH = 107;
/** The most a v2 header may carry past its 16-byte head: addresses (216 at most, for UNIX) and TLVs. */
export const V2_MAX_LENGTH = 2048;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_HEAD_LENGTH = 16;

export type ProxyHeader =
  /** More bytes are needed to decide. */
  | { readonly kind: 'incomplete' }
  /** The bytes do not start with a PROXY header at all (the connection's own protocol). */
  | { readonly kind: 'absent' }
  /** They start like one, but are not a valid one: why. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /**
   * A whole header of `length` bytes. `source` is the client it names; absent for v2's LOCAL
   * command, v1's UNKNOWN and v2's unspecified or UNIX families (the connection's own peer
   * address stands then, as the spec says).
   */
  | { readonly kind: 'header'; readonly length: number; readonly source?: string };

const INCOMPLETE: ProxyHeader = { kind: 'incomplete' };
const ABSENT: ProxyHeader = { kind: 'absent' };

/** Reads a PROXY header from the start of `bytes` (what a connection has sent so far). */
export function parseProxyHeader(bytes: Buffer): ProxyHeader {
  if (startsLike(bytes, V1_PREFIX)) return bytes.length < V1_PREFIX.length ? INCOMPLETE : parseV1(bytes);
  if (startsLike(bytes, V2_SIGNATURE)) return bytes.length < V2_HEAD_LENGTH ? INCOMPLETE : parseV2(bytes);
  return ABSENT;
}

/** Whether what is there of `bytes` matches the start of `prefix` (true for an empty buffer). */
function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.compare(prefix, 0, n, 0, n) === 0;
}

function invalid(reason: string): ProxyHeader {
  return { kind: 'invalid', reason };
}

function parseV1(bytes: Buffer): ProxyHeader {
  const end = lineEnd(bytes);
  if (typeof end === 'string') return invalid(end);
  if (end === -1 || end + 2 > V1_MAX_LENGTH) {
    return bytes.length >= V1_MAX_LENGTH
      ? invalid(`v1 header longer than ${V1_MAX_LENGTH} bytes`)
      : INCOMPLETE;
  }
  const length = end + 2;
  const line = bytes.toString('latin1', V1_PREFIX.length, end);
  const fields = line.split(' ');
  // UNKNOWN: the balancer could not tell; whatever follows it on the line is to be ignored.
  if (fields[0] === 'UNKNOWN') return { kind: 'header', length };
  if (fields.length !== 5) return invalid('v1 header without exactly five fields');
  const [family, source, destination, sourcePort, destinationPort] = fields;
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (version === 0) return invalid(`v1 header with protocol ${JSON.stringify(family.slice(0, 16))}`);
  // node:net takes a zone index ("fe80::1%eth0"), which RFC 4291's text, the spec's, has not.
  if (net.isIP(source) !== version || net.isIP(destination) !== version || line.includes('%'))
    return invalid(`v1 header with addresses that are not ${family}`);
  if (!isPort(sourcePort) || !isPort(destinationPort)) return invalid('v1 header with an invalid port');
  // In its canonical text, as v2's and a socket's own: `2001:DB8:0::7` would be another client
  // to a rate limit's key, per_client.connections and the hash balancer than `2001:db8::7`.
  return { kind: 'header', length, source: version === 6 ? canonicalIPv6(source) : source };
}

/**
 * Where the v1 line's CRLF begins (-1: not here yet), or why the line is malformed: a CR or LF
 * alone inside it. The spec ends the line with CRLF and nothing else; an UNKNOWN line, whose
 * rest is ignored, ended by a bare LF would otherwise run on to the next CRLF and swallow the
 * request line after it, which the HTTP parser (LF ends a line there too) reads as a request.
 */
function lineEnd(bytes: Buffer): number | string {
  const scanned = Math.min(bytes.length, V1_MAX_LENGTH);
  for (let at = V1_PREFIX.length; at < scanned; at++) {
    if (bytes[at] === 0x0a) return 'v1 header with a bare LF in its line (it ends with CRLF)';
    if (bytes[at] !== 0x0d) continue;
    if (at + 1 === bytes.length) return -1;
    return bytes[at + 1] === 0x0a ? at : 'v1 header with a bare CR in its line';
  }
  return -1;
}

/** Decimal 0-65535 without a leading zero, as the spec writes ports. */
function isPort(text: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535;
}

function parseV2(bytes: Buffer): ProxyHeader {
  const versionCommand = bytes[12];
  if (versionCommand >> 4 !== 2) return invalid(`v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 header with command ${command}`);
  const family = bytes[13];
  const bodyLength = bytes.readUInt16BE(14);
  if (bodyLength > V2_MAX_LENGTH) return invalid(`v2 header of ${bodyLength} bytes, past ${V2_MAX_LENGTH}`);
  const length = V2_HEAD_LENGTH + bodyLength;
  if (bytes.length < length) return INCOMPLETE;
  // LOCAL: the balancer's own connection (a health check); the peer address stands.
  if (command === 0) return { kind: 'header', length };
  const body = bytes.subarray(V2_HEAD_LENGTH, length);
  switch (family) {
    // TCP (0x11) or UDP (0x12) over IPv4: source, destination (4 bytes each), then the two
    // ports. A datagram family is a client too (a balancer whose client came over UDP, QUIC,
    // may name it so): the spec lets a receiver refuse none of its valid combinations.
    case 0x11:
    case 0x12:
      if (body.length < 12) return invalid(`v2 ${familyName(family)} header too short for its addresses`);
      return withTlvs(bytes.subarray(0, length), V2_HEAD_LENGTH + 12, {
        kind: 'header',
        length,
        source: `${body[0]}.${body[1]}.${body[2]}.${body[3]}`,
      });
    // TCP or UDP over IPv6: 16 bytes each.
    case 0x21:
    case 0x22:
      if (body.length < 36) return invalid(`v2 ${familyName(family)} header too short for its addresses`);
      return withTlvs(bytes.subarray(0, length), V2_HEAD_LENGTH + 36, {
        kind: 'header',
        length,
        source: ipv6Text(body.subarray(0, 16)),
      });
    // A UNIX socket, stream or datagram (108 bytes each): there is no client address to take,
    // but its block is whole or the header is malformed, as for the TCP families (and HAProxy's
    // reading).
    case 0x31:
    case 0x32:
      if (body.length < 216) return invalid(`v2 ${familyName(family)} header too short for its addresses`);
      return withTlvs(bytes.subarray(0, length), V2_HEAD_LENGTH + 216, { kind: 'header', length });
    // Unspecified: the body is to be ignored, addresses and all (the spec's own words).
    case 0x00:
      return { kind: 'header', length };
    default:
      return invalid(`v2 header with address family and protocol 0x${family.toString(16).padStart(2, '0')}`);
  }
}

/** The spec's name of a valid family and protocol byte (0x12: UDP4). */
function familyName(family: number): string {
  const protocol = (family & 0x0f) === 1 ? 'STREAM' : 'DGRAM';
  if (family >> 4 === 3) return `UNIX ${protocol}`;
  return `${protocol === 'STREAM' ? 'TCP' : 'UDP'}${family >> 4 === 1 ? 4 : 6}`;
}

/** PP2_TYPE_CRC32C: the checksum of the whole header, its own 4-byte value zeroed. */
const TLV_CRC32C = 0x03;

/**
 * `header`, when the TLVs of `whole` (the header, its TLVs from `from`: type, 16-bit length,
 * value; the balancer's extras) fill it exactly: one whose length runs past the header, or
 * bytes too few for a TLV's own head, make a malformed header, refused as HAProxy refuses it
 * rather than read past or guessed at. A CRC32C TLV is checked, as the spec says a receiver
 * that knows it must: a header damaged on the way (its client's address among its bytes) is
 * refused, never read.
 */
function withTlvs(whole: Buffer, from: number, header: ProxyHeader): ProxyHeader {
  for (let at = from; at < whole.length; ) {
    if (at + 3 > whole.length)
      return invalid(`v2 header with ${whole.length - at} byte(s) after its TLVs, too few for one`);
    const size = whole.readUInt16BE(at + 1);
    const end = at + 3 + size;
    if (end > whole.length)
      return invalid(
        `v2 header with a TLV (type 0x${whole[at].toString(16).padStart(2, '0')}) of ${size} bytes that runs past the header`,
      );
    if (whole[at] === TLV_CRC32C) {
      const wrong = checksumProblem(whole, at + 3, size);
      if (wrong !== undefined) return invalid(wrong);
    }
    at = end;
  }
  return header;
}

/** Why the CRC32C TLV whose value is at `at` (`size` bytes) does not hold for `whole`, or undefined when it does. */
function checksumProblem(whole: Buffer, at: number, size: number): string | undefined {
  if (size !== 4) return `v2 header with a CRC32C TLV of ${size} bytes, not 4`;
  const said = whole.readUInt32BE(at);
  const zeroed = Buffer.from(whole);
  zeroed.writeUInt32BE(0, at);
  const sum = crc32c(zeroed);
  if (sum === said) return undefined;
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  return `v2 header whose CRC32C TLV says ${hex(said)}, its bytes sum to ${hex(sum)} (damaged on the way)`;
}

/** 16 bytes → the canonical text (`::1`, `2001:db8::5`), as a socket's remoteAddress is written. */
function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return canonicalIPv6(groups.join(':'));
}
