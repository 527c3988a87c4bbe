/**
 * The scheme a proxy in front says its client used: what a TLS terminator tells the gateway
 * behind it in `X-Forwarded-Proto` (or, without one, `Forwarded`'s `proto=`, RFC 7239 §5.4).
 * Read only from a peer in `trust_forwarded_from` (request-scheme.ts), as its address words are.
 */
import { trimOws } from '../ows.ts';
import type { FieldMap } from './downstream.ts';
import { forwardedParams, joinedLines } from './forwarded-for.ts';

/**
 * `http` or `https`, as the peer stated it; undefined when it stated neither (no field, or a
 * value that is no such scheme). The last entry is the peer's own word: one that appends to a
 * list (`X-Forwarded-Proto: https, http`, or a second `Forwarded` element) wrote it last, and
 * what lies left of it is whatever its own client sent. X-Forwarded-Proto first, as for the
 * client's address (trust.ts): many proxies pass a client's `Forwarded` on untouched.
 *
 * @example statedProto({ 'x-forwarded-proto': 'HTTPS' }) // 'https'
 * @example statedProto({ forwarded: 'for=192.0.2.1;proto=https' }) // 'https'
 */
export function statedProto(fields: FieldMap): 'http' | 'https' | undefined {
  const proto = fields['x-forwarded-proto'];
  if (proto !== undefined) return protoStated(lastLine(proto));
  const forwarded = fields.forwarded;
  if (forwarded === undefined) return undefined;
  const protos = forwardedParams(joinedLines(forwarded), 'proto=');
  return schemeOf(protos[protos.length - 1]);
}

/** The scheme one X-Forwarded-Proto line states: its last entry, when that is `http` or `https` (any case). */
export function protoStated(line: string): 'http' | 'https' | undefined {
  return schemeOf(lastEntry(line));
}

const lastLine = (value: string | readonly string[]): string =>
  typeof value === 'string' ? value : value[value.length - 1];

/**
 * The last entry of one line of an X-Forwarded-* field: what a trusted proxy itself says there
 * (Proto, Host). One that appends its word (HAProxy's `add-header`, a list it extends) writes it
 * after whatever its own client sent, which is no one's to believe.
 */
export function lastEntry(value: string): string {
  const comma = value.lastIndexOf(',');
  return trimOws(comma === -1 ? value : value.slice(comma + 1));
}

function schemeOf(value: string): 'http' | 'https' | undefined {
  const lower = value.toLowerCase();
  return lower === 'https' ? 'https' : lower === 'http' ? 'http' : undefined;
}
