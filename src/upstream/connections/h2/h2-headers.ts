/**
 * The request head as an HTTP/2 upstream takes it, and its response head in the contract's
 * neutral words (UpstreamHead): so the exchange, the one head builder and the hop-by-hop rules
 * serve both protocols unchanged.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { isHopByHop } from '../../../core/http1/hop-by-hop.ts';
import { hasOuterOws, snippet } from '../../../core/http1/syntax.ts';
import type { ExchangeRequest, UpstreamHead } from '../exchange-contract.ts';

/**
 * RFC 9113 §8.3.1: the target's authority goes in `:authority` (Host is dropped, as an
 * intermediary converting from HTTP/1.1 may); §8.2.2: no connection-specific field may go,
 * but `te: trailers`, which this hop sends on its own behalf: it takes trailer fields (and
 * relays them where the client can take them), and the gRPC protocol requires it. Names are
 * lower-cased (§8.2.1); a repeated field stays repeated.
 */
export function h2RequestHeaders(
  request: ExchangeRequest,
  scheme: 'http' | 'https',
  authority: string,
): OutgoingHttpHeaders {
  // No prototype: a field named `constructor` or `__proto__` is a field, not a property already there.
  const headers: OutgoingHttpHeaders = Object.create(null);
  headers[':method'] = request.method;
  headers[':scheme'] = scheme;
  headers[':authority'] = authority;
  headers[':path'] = request.path;
  headers.te = 'trailers';
  const { headers: raw } = request;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (isHopByHop(name)) continue;
    if (name === 'host') {
      headers[':authority'] = raw[i + 1];
      continue;
    }
    const value = raw[i + 1];
    const present = headers[name];
    if (present === undefined) headers[name] = value;
    else if (Array.isArray(present)) present.push(value);
    else headers[name] = [String(present), value];
  }
  return headers;
}

/**
 * A request head node:http2 would not send because the client repeated a field it takes once
 * (ERR_HTTP2_HEADER_SINGLE_VALUE: two If-None-Match lines, a list HTTP/1.1 allows; a User-Agent
 * sent twice): each repeated field given once, a repeated value dropped and another joined to
 * the first with ", ", as a recipient of the HTTP/1.1 lines may combine them (RFC 9110 §5.3).
 * Cookie stays repeated: HTTP/2 carries it split (RFC 9113 §8.2.3).
 */
export function joinRepeatedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const joined: OutgoingHttpHeaders = Object.create(null);
  for (const name in headers) {
    const value = headers[name];
    joined[name] = Array.isArray(value) && name !== 'cookie' ? [...new Set(value)].join(', ') : value;
  }
  return joined;
}

/**
 * An HTTP/2 response head as the contract's UpstreamHead. HTTP/2 frames its body itself: a
 * body is passed on as content, framed anew downstream (by its Content-Length when the
 * upstream gave one); a HEAD's answer or a HEADERS frame that ended the stream has none.
 */
export function h2AnswerHead(
  rawHeaders: readonly string[],
  method: string,
  endStream: boolean,
): UpstreamHead {
  let status = 0;
  let contentLength = -1;
  const headers: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name === ':status') status = Number(rawHeaders[i + 1]);
    else if (name.startsWith(':')) continue;
    else {
      if (name === 'content-length') contentLength = Number(rawHeaders[i + 1]);
      headers.push(name, rawHeaders[i + 1]);
    }
  }
  const hasBody = !(method === 'HEAD' || status === 204 || status === 304 || endStream);
  return {
    status,
    reason: '',
    version: '2',
    headers,
    hasBody,
    bodyLength: hasBody && contentLength >= 0 ? contentLength : undefined,
  };
}

/** Trailer fields as the flat list the exchange filters (pseudo-fields never belong in one). */
export function h2Trailers(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (!rawHeaders[i].startsWith(':')) out.push(rawHeaders[i], rawHeaders[i + 1]);
  return out;
}

/**
 * The first field of a header list (flat [name, value, …]) whose value starts or ends with SP or
 * HTAB, which RFC 9113 §8.2.1 makes malformed (HTTP/2 has no optional whitespace around a value),
 * as the Failure's details; undefined when there is none. No copy of the list.
 */
export function paddedField(rawHeaders: readonly string[]): string | undefined {
  for (let i = 1; i < rawHeaders.length; i += 2)
    if (hasOuterOws(rawHeaders[i]))
      return `whitespace around the value of header ${snippet(rawHeaders[i - 1])} (HTTP/2 allows none: RFC 9113 section 8.2.1)`;
  return undefined;
}

/** A header list's size as HTTP/2 counts it (RFC 9113 §6.5.2): each field's name and value and 32 bytes. */
export function h2HeaderListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) size += rawHeaders[i].length + rawHeaders[i + 1].length + 32;
  return size;
}
