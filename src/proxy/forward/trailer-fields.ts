/**
 * Which trailer fields of an upstream response may reach the client.
 *
 * RFC 9110 §6.5.1: "Many fields cannot be processed outside the header section because their
 * evaluation is necessary prior to receiving the content, such as those that describe message
 * framing, routing, authentication, request modifiers, response controls, or content format."
 * A recipient acts on those from the head; the same names arriving after the body would either
 * be ignored or, worse, be merged by a client or cache that trusts them (§6.5.2 forbids merging
 * unless a field's definition allows it). So they are dropped here, with the hop-by-hop fields
 * (§7.6.1), which describe the upstream's connection and never cross a hop in any section,
 * and with the fields the answer head's Connection names: §7.6.1 has a proxy remove "any header
 * or trailer field(s)" so named, and the head's were removed already (answer-headers.ts).
 *
 * A deny list, not an allow list: extension trailers (Server-Timing, grpc-status, digests) are
 * what trailers are for, and Candor cannot know every definition that permits them.
 */
import { connectionNominated, isHopByHop } from '../../core/http1/hop-by-hop.ts';
import { nameIs } from '../../core/http1/syntax.ts';
import type { DownstreamHead } from '../../core/net/downstream.ts';
import type { UpstreamHead } from '../../upstream/connections/exchange-contract.ts';

const NOT_IN_TRAILERS = new Set([
  // Message framing (RFC 9112 §6): the body is already framed and over.
  'content-length',
  'transfer-encoding',
  'trailer',
  // Routing (RFC 9110 §7.2, RFC 7239).
  'host',
  'forwarded',
  // Request modifiers: controls (§7.6.2, §10.1) and conditionals (§13.1).
  'expect',
  'max-forwards',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  // Authentication (§11; RFC 6265 for cookies). Authentication-Info and Proxy-Authentication-Info
  // are not here: §11.6.3 and §11.7.3 allow them in trailers.
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'cookie',
  'set-cookie',
  // Response controls (§10.2) and caching (RFC 9111 §5): a cache decides from the head, and a
  // Cache-Control or Expires after the body could not change a decision already taken.
  'age',
  'cache-control',
  'expires',
  'pragma',
  'vary',
  'date',
  'location',
  'retry-after',
  // Content format (§8.3–§8.6): how to read the content, needed before reading it.
  'content-type',
  'content-encoding',
  'content-language',
  'content-location',
  'content-range',
]);

/**
 * Whether the client's response can carry the upstream's trailers: an HTTP/1.1 client's only in a
 * chunked response with a body (a Trailer field announcing them in any other is a lie); HTTP/2
 * frames them itself, after any body or none (gRPC's status).
 */
export function trailersReach(
  request: Pick<DownstreamHead, 'method' | 'protocol' | 'versionMinor'>,
  answer: Pick<UpstreamHead, 'status' | 'hasBody' | 'bodyLength'>,
): boolean {
  return (
    request.method !== 'HEAD' &&
    answer.status !== 204 &&
    answer.status !== 304 &&
    (request.protocol === 'HTTP/2' ||
      (request.versionMinor === 1 && answer.hasBody && answer.bodyLength === undefined))
  );
}

/**
 * The fields of a trailer section (flat [name, value, …]) that may be forwarded, in order;
 * `head` is the answer's head as it came (flat too), for the names its Connection gave.
 */
export function filterTrailers(raw: readonly string[], head: readonly string[] = []): string[] {
  const out: string[] = [];
  const nominated = raw.length === 0 ? undefined : connectionNominated(connectionValues(head));
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (NOT_IN_TRAILERS.has(lower) || isHopByHop(lower) || nominated?.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** The values of a head's Connection fields (flat [name, value, …]), in order. */
function connectionValues(head: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < head.length; i += 2) if (nameIs(head[i], 'connection')) values.push(head[i + 1]);
  return values;
}
