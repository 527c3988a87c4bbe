/**
 * Which content coding a response gets (routes[].compression): the client's Accept-Encoding
 * (RFC 9110 §12.5.3, q-values), the route's offer in its own order, and the response's own
 * facts that forbid any. Pure: compressing-sink.ts does the work.
 */
import type { CompressionConfig, ContentCoding } from '../../core/config/types.ts';
import { isGrpcContentType } from '../../core/failure/grpc-answer.ts';
import { type DownstreamHead, joinedField } from '../../core/net/downstream.ts';
import { qvalue } from '../../core/qvalue.ts';
import { hasField } from './coded-fields.ts';

/** The first of `offered` the client accepts (q > 0, by name or by `*`), else undefined. */
export function negotiateCoding(
  acceptEncoding: string | undefined,
  offered: readonly ContentCoding[],
): ContentCoding | undefined {
  if (acceptEncoding === undefined || acceptEncoding === '') return undefined;
  const weights = new Map<string, number>();
  for (const item of acceptEncoding.split(',')) {
    const [name, ...params] = item.split(';');
    const coding = name.trim().toLowerCase();
    if (coding === '') continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() !== 'q') continue;
      q = qvalue(value);
    }
    // "x-gzip" is gzip (RFC 9110 §8.4.1.3).
    weights.set(coding === 'x-gzip' ? 'gzip' : coding, q);
  }
  const any = weights.get('*');
  let best: ContentCoding | undefined;
  let bestQ = 0;
  // The route's order breaks ties: the first offered among the client's best.
  for (const coding of offered) {
    const q = weights.get(coding) ?? any ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  // The client may prefer no coding at all: "gzip;q=0.1, identity", or "gzip;q=0.1, *" (RFC 9110
  // §12.5.3: "*" matches every coding not listed, "identity" (no coding) among them).
  const identity = weights.get('identity') ?? any;
  return identity !== undefined && identity > bestQ ? undefined : best;
}

/** What of the request and response decides whether a response may be compressed. */
export interface CodingFacts {
  readonly status: number;
  /** The request asked for a range: a GET did (RFC 9110 §14.2: another method's Range is ignored). */
  readonly range: boolean;
  /** The request's Cache-Control says no-transform. */
  readonly noTransform: boolean;
  /** The answer may hold a secret of the client's (credentialed()): `skip_credentialed` types go as they are. */
  readonly credentialed: boolean;
  /** The response's fields (flat [name, value, …]). */
  readonly headers: readonly string[];
}

/** The facts of a response of `status` with `headers` to `request`. */
export function codingFacts(
  request: Pick<DownstreamHead, 'method' | 'headers'>,
  status: number,
  headers: readonly string[],
): CodingFacts {
  const requestHeaders = request.headers;
  return {
    status,
    // A HEAD's Range too: its answer has its GET's fields, the GET without the Range it ignores.
    range: request.method === 'GET' && hasField(requestHeaders, 'range'),
    headers,
    noTransform: forbidsTransform(joinedField(requestHeaders, 'cache-control')),
    credentialed: credentialed(requestHeaders, headers),
  };
}

/**
 * Whether an answer may hold a secret of the client's beside what it reflects of the request, so
 * that its compressed length is a BREACH oracle: the request carries credentials (`Cookie`,
 * `Authorization`: the page is a signed-in user's) or the response sets a cookie (a session or a
 * CSRF token made now, which the page may hold too). An anonymous answer holds none of either.
 */
export function credentialed(requestHeaders: readonly string[], headers: readonly string[]): boolean {
  return (
    hasField(requestHeaders, 'cookie') ||
    hasField(requestHeaders, 'authorization') ||
    hasField(headers, 'set-cookie')
  );
}

/** The coding the response goes in to this client: undefined when it goes as it is. */
export function codingFor(
  facts: CodingFacts,
  requestHeaders: readonly string[],
  config: CompressionConfig,
): ContentCoding | undefined {
  return compressible(facts, config)
    ? negotiateCoding(joinedField(requestHeaders, 'accept-encoding'), config.encodings)
    : undefined;
}

/**
 * A 304 whose ETag goes weak: the 200 it stands for would have gone compressed to this client
 * (notModifiedForCompressed says why), or the client holds the tag weak, a compressed copy's,
 * whatever the 304 says (a `Content-Length: 0` some origins send on one): a strong tag would let
 * its cache take the tag for that copy's, and answer an If-Range with identity bytes spliced in.
 */
export function weakNotModified(
  facts: CodingFacts,
  requestHeaders: readonly string[],
  config: CompressionConfig,
): boolean {
  if (facts.status !== 304) return false;
  const held = clientTag(requestHeaders, facts.headers);
  if (held === 'weak') return true;
  return (
    notModifiedForCompressed(facts, config, held) &&
    negotiateCoding(joinedField(requestHeaders, 'accept-encoding'), config.encodings) !== undefined
  );
}

/**
 * Whether this response may be compressed at all: never a 1xx, 204, 205, 206 or 304, an answer
 * to a GET's Range request, a body already encoded, `Cache-Control: no-transform` (the response's or
 * the request's), a media type not in `types` or a gRPC one, one of `skip_credentialed` when the
 * answer is credentialed, or a Content-Length of 0 or under `min_size` (an
 * empty body compressed is a body: a 205 may have none, RFC 9110 §15.3.6). A HEAD's answer is
 * judged as its GET's would be: it has no body, but the fields a compressed one would have.
 */
export function compressible(facts: CodingFacts, config: CompressionConfig): boolean {
  const { status } = facts;
  if (facts.range || facts.noTransform) return false;
  if (status < 200 || status === 204 || status === 205 || status === 206 || status === 304) return false;
  return fieldsAllow(facts.headers, config, false, facts.credentialed);
}

/**
 * A part of a 200 (`status` 206 and `headers` the upstream's, or the 200 the cache would cut one
 * from) that this client may splice into a compressed copy: it resumes with `If-Range: <date>`
 * (a compressed answer keeps the upstream's Last-Modified, a strong validator; its ETag went
 * weak, and a weak tag never matches, RFC 9110 §13.1.5), it accepts one of the route's codings,
 * and the whole 200 would have gone compressed to it. Such a client gets the whole answer
 * instead (§14.2: a server may ignore Range); a type the route never compresses, a client that
 * takes no coding or says no-transform held an identity copy, and resumes.
 */
export function partForCodedCopy(
  requestHeaders: readonly string[],
  status: number,
  headers: readonly string[],
  config: CompressionConfig,
): boolean {
  if (status !== 206 && status !== 200) return false;
  const ifRange = joinedField(requestHeaders, 'if-range')?.trim();
  if (ifRange === undefined || ifRange.startsWith('"') || ifRange.startsWith('W/')) return false;
  if (forbidsTransform(joinedField(requestHeaders, 'cache-control'))) return false;
  if (negotiateCoding(joinedField(requestHeaders, 'accept-encoding'), config.encodings) === undefined)
    return false;
  // A 206's Content-Length is the part's: the whole body's length is Content-Range's.
  const whole = status === 206 ? /\/(\d+)\s*$/.exec(joinedField(headers, 'content-range') ?? '') : null;
  const fields =
    whole === null
      ? headers
      : [...headers.filter((_, i) => !isLength(headers, i)), 'content-length', whole[1]];
  return fieldsAllow(fields, config, false, credentialed(requestHeaders, headers));
}

/** Whether the field at `i` (a name's index, or its value's) is a Content-Length. */
function isLength(headers: readonly string[], i: number): boolean {
  return headers[i - (i % 2)].toLowerCase() === 'content-length';
}

/**
 * Whether the 200 that a 304 stands for might have been compressed: a 304 carries the ETag its
 * 200 would have had (RFC 9110 §15.4.5), weak then, or a cache that updates its stored
 * compressed answer from it gets a strong validator back on it (and resumes with the identity
 * body's ranges). A 304 without Content-Type (as most are) might have been, unless the client
 * holds that tag strong (`held`, clientTag): a video's 304 made its strong ETag weak, and the
 * browser that took it sent an If-Range that never matches.
 */
export function notModifiedForCompressed(
  facts: CodingFacts,
  config: CompressionConfig,
  held: 'strong' | 'weak' | undefined,
): boolean {
  if (facts.status !== 304 || facts.range || facts.noTransform) return false;
  return fieldsAllow(facts.headers, config, held !== 'strong', facts.credentialed);
}

/**
 * How the client's If-None-Match names the 304's entity-tag: `weak` when it names it so at all
 * (the copy it holds is a compressed one's, or the tag was weak already), `strong` when only so
 * (an identity body's), undefined when not at all.
 */
export function clientTag(
  requestHeaders: readonly string[],
  headers: readonly string[],
): 'strong' | 'weak' | undefined {
  const held = joinedField(requestHeaders, 'if-none-match');
  const etag = joinedField(headers, 'etag');
  if (held === undefined || etag === undefined) return undefined;
  const opaque = etag.trim().replace(/^W\//, '');
  let named: 'strong' | undefined;
  // Each entity-tag whole (a comma may stand inside one's quotes, RFC 9110 §8.8.3).
  for (const [, weak, tag] of held.matchAll(/(W\/)?("[^"]*")/g)) {
    if (tag !== opaque) continue;
    if (weak !== undefined) return 'weak';
    named = 'strong';
  }
  return named;
}

/**
 * The response's own fields that forbid compressing it; `anyType`: no Content-Type allows it;
 * `withCredentials`: the answer may hold the client's secret (a type of `skip_credentialed` goes as it is).
 */
function fieldsAllow(
  headers: readonly string[],
  config: CompressionConfig,
  anyType: boolean,
  withCredentials: boolean,
): boolean {
  let type: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    const value = headers[i + 1];
    if (name === 'content-encoding' && value.trim().toLowerCase() !== 'identity') return false;
    if (name === 'cache-control' && forbidsTransform(value)) return false;
    if (name === 'content-length' && (Number(value) < config.minSize || Number(value) === 0)) return false;
    if (name === 'content-type' && type === undefined) type = value.split(';')[0].trim().toLowerCase();
  }
  if (type === undefined) return anyType;
  // gRPC frames and compresses its messages itself (grpc-encoding): its client reads the body as
  // length-prefixed messages, never through a Content-Encoding, though a client may send
  // `accept-encoding` (gRPC's C core has sent `identity,gzip`). `types: [application/*]` does not take it.
  // gRPC-Web is read by a browser's fetch, which decodes the coding: it goes by `types`.
  if (withCredentials && typeMatches(type, config.skipCredentialed)) return false;
  return !isGrpcContentType(type) && typeMatches(type, config.types);
}

/**
 * A Cache-Control value with `no-transform`: in a response, the content must not change on the
 * way (RFC 9110 §7.7); in a request, the client asks intermediaries the same (RFC 9111 §5.2.1.6).
 */
export function forbidsTransform(cacheControl: string | undefined): boolean {
  return cacheControl !== undefined && /(^|[\s,])no-transform([\s,]|$)/i.test(cacheControl);
}

/** `text/html` against the list: exactly, or by a `text/*` entry. */
function typeMatches(type: string, types: readonly string[]): boolean {
  for (const entry of types) {
    if (entry === type) return true;
    if (entry.endsWith('/*') && type.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}
