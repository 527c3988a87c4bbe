import { isHopByHop } from '../http1/hop-by-hop.ts';

/**
 * Fields a trailer section must not carry (RFC 9110 §6.5.1): framing, routing, request
 * modifiers, authentication and response control. A recipient merging them into the
 * header section would be misled; a client's parser may even reject the message.
 */
const NOT_IN_TRAILERS = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'host',
  'authorization',
  'proxy-authenticate',
  'www-authenticate',
  'set-cookie',
  'cookie',
  'cache-control',
  'expires',
  'age',
  'date',
  'location',
  'retry-after',
  'vary',
  'trailer',
]);

/** The upstream's trailer fields that may go downstream: hop-by-hop and forbidden fields out. */
export function filterTrailers(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (isHopByHop(lower) || NOT_IN_TRAILERS.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}
