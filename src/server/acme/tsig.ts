import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TsigAlgorithm } from '../../core/config/types.ts';
import {
  CLASS,
  type DecodedMessage,
  encodeName,
  encodeRecord,
  readName,
  sameName,
  TYPE,
} from './dns-wire.ts';

export interface TsigKey {
  /** The key's name, as the DNS server knows it. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** The time a signed message may be off the server's clock (RFC 8945 §10: 300 s recommended). */
const FUDGE_S = 300;

/**
 * Signs a message (RFC 8945 §4.2): the MAC covers the message as it is, then the TSIG
 * variables; the TSIG record is then appended to the additional section. Returns the signed
 * message and its MAC, which the answer's MAC covers in turn.
 */
export function signMessage(
  message: Buffer,
  key: TsigKey,
  now = Date.now(),
): { signed: Buffer; mac: Buffer } {
  const timeSigned = Math.floor(now / 1000);
  const mac = hmac(key, [message, variables(key, timeSigned, FUDGE_S, 0)]);
  const record = encodeRecord({
    name: key.name,
    type: TYPE.TSIG,
    class: CLASS.ANY,
    ttl: 0,
    data: Buffer.concat([
      encodeName(key.algorithm, true),
      timeFields(timeSigned, FUDGE_S),
      u16(mac.length),
      mac,
      message.subarray(0, 2), // the original id
      u16(0), // error
      u16(0), // other len
    ]),
  });
  const signed = Buffer.concat([message, record]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** What an answer's TSIG says: its error (BADSIG, BADKEY… by rcode number; 0 for none), and whether its MAC is the key's. */
export interface TsigVerdict {
  readonly error: number;
  readonly verified: boolean;
  readonly signed: boolean;
  /** With the key's MAC but signed outside its fudge: how many seconds before this host's clock (negative: after), and the fudge. */
  readonly late?: { readonly seconds: number; readonly fudge: number };
}

/**
 * Checks an answer's TSIG against the request's MAC (RFC 8945 §5.3): the MAC covers the
 * request's MAC, the answer without its TSIG (with its original id), and the variables. A
 * server that could not check the request answers with an error and no MAC: unsigned, not
 * verified, with that error. Throws (a RangeError) on a TSIG record cut short.
 */
export function verifyAnswer(
  message: Buffer,
  decoded: DecodedMessage,
  key: TsigKey,
  requestMac: Buffer,
): TsigVerdict {
  const tsig = decoded.additional.at(-1);
  if (tsig === undefined || tsig.type !== TYPE.TSIG) return { error: 0, verified: false, signed: false };
  const { name: algorithm, next } = readName(tsig.data, 0);
  const data = tsig.data;
  const timeSigned = data.readUIntBE(next, 6);
  const fudge = data.readUInt16BE(next + 6);
  const macSize = data.readUInt16BE(next + 8);
  const mac = data.subarray(next + 10, next + 10 + macSize);
  const rest = next + 10 + macSize;
  const originalId = data.readUInt16BE(rest);
  const error = data.readUInt16BE(rest + 2);
  const otherLength = data.readUInt16BE(rest + 4);
  const other = data.subarray(rest + 6, rest + 6 + otherLength);
  if (
    macSize === 0 ||
    algorithm.toLowerCase() !== key.algorithm ||
    // As DNS compares names: `candor-key.` (certbot's dns_rfc2136_name writes the final dot) is
    // the key the server signs with as `candor-key`; compared as text, every answer was disbelieved.
    !sameName(tsig.name, key.name)
  )
    return { error, verified: false, signed: macSize !== 0 };
  const unsigned = Buffer.from(message.subarray(0, decoded.lastRecordOffset));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const fields = variables(key, timeSigned, fudge, error, other);
  const expected = hmac(key, [u16(requestMac.length), requestMac, unsigned, fields]);
  const keys = expected.length === mac.length && timingSafeEqual(expected, mac);
  // An answer signed outside its fudge is a replay (RFC 8945 §5.2.3), however good its MAC.
  const seconds = Math.floor(Date.now() / 1000) - timeSigned;
  if (keys && Math.abs(seconds) > fudge)
    return { error, verified: false, signed: true, late: { seconds, fudge } };
  return { error, verified: keys, signed: true };
}

/** RFC 8945 §4.3.3's TSIG variables: the key's name and algorithm in canonical form, the time, the error, other data. */
function variables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer = Buffer.alloc(0),
): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS.ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  return Buffer.concat([
    encodeName(key.name, true),
    fixed,
    encodeName(key.algorithm, true),
    timeFields(timeSigned, fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

/** Time signed (48 bits) and fudge, as both the record and the variables hold them. */
function timeFields(timeSigned: number, fudge: number): Buffer {
  const fields = Buffer.alloc(8);
  fields.writeUIntBE(timeSigned, 0, 6);
  fields.writeUInt16BE(fudge, 6);
  return fields;
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const mac = createHmac(key.algorithm.replace('hmac-', ''), key.secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value, 0);
  return bytes;
}
