import { appendSfMember } from '../../core/failure/structured-field.ts';
import { connectionNominated, isHopByHop } from '../../core/http1/hop-by-hop.ts';

/**
 * The downstream response's headers from the upstream's parsed head, as a flat [name, value, …]
 * list: hop-by-hop fields out, Via, X-Request-Id and (on errors the upstream made) Proxy-Status
 * in. `via` is this hop's entry ("1.1 edge-1"); `proxyStatus` this gateway's Proxy-Status
 * member, appended to the upstream's own when that is a valid List (else it replaces it);
 * `trailers`: the downstream response will carry trailers (chunked, to an HTTP/1.1 client),
 * otherwise no Trailer field goes.
 */
export function buildDownstreamHead(
  raw: readonly string[],
  requestId: string,
  via: string,
  proxyStatus: string | undefined,
  trailers: boolean,
): string[] {
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      connection ??= [];
      connection.push(raw[i + 1]);
    }
  }
  const nominated = connection === undefined ? undefined : connectionNominated(connection);
  // Made to size (the fields kept, and this hop's six at most), not grown field by field.
  const out: string[] = new Array(raw.length + 6);
  let n = 0;
  let upstreamVia: string | undefined;
  let upstreamStatus: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || nominated?.has(lower)) continue;
    if (lower === 'trailer' && !trailers) continue;
    if (lower === 'via') {
      upstreamVia = upstreamVia === undefined ? value : `${upstreamVia}, ${value}`;
      continue;
    }
    if (lower === 'proxy-status') {
      upstreamStatus = upstreamStatus === undefined ? value : `${upstreamStatus}, ${value}`;
      continue;
    }
    if (lower === 'x-request-id') continue;
    out[n++] = name;
    out[n++] = value;
  }
  out[n++] = 'via';
  out[n++] = upstreamVia === undefined ? via : `${upstreamVia}, ${via}`;
  out[n++] = 'x-request-id';
  out[n++] = requestId;
  if (proxyStatus !== undefined || upstreamStatus !== undefined) {
    out[n++] = 'proxy-status';
    out[n++] =
      proxyStatus === undefined ? (upstreamStatus as string) : appendSfMember(upstreamStatus, proxyStatus);
  }
  out.length = n;
  return out;
}
