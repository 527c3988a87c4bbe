import { connectionNominated, isHopByHop } from '../../core/http1/hop-by-hop.ts';

export interface ResponseFacts {
  readonly requestId: string;
  /** "1.1 edge-1". */
  readonly via: string;
  /** This gateway's Proxy-Status member, appended to the upstream's own when present. */
  readonly proxyStatus: string | undefined;
  /** The downstream response will carry trailers (chunked, to an HTTP/1.1 client): otherwise no Trailer field. */
  readonly trailers: boolean;
}

interface DownstreamHead {
  readonly headers: string[];
  /** The response has a Content-Length (otherwise Node frames it, chunked for HTTP/1.1 clients). */
  readonly hasLength: boolean;
}

/**
 * The downstream response's headers from the upstream's parsed head: hop-by-hop fields out,
 * Via, X-Request-Id and (on errors the upstream made) Proxy-Status in.
 */
export function buildDownstreamHead(raw: readonly string[], facts: ResponseFacts): DownstreamHead {
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      connection ??= [];
      connection.push(raw[i + 1]);
    }
  }
  const nominated = connection === undefined ? undefined : connectionNominated(connection);
  const out: string[] = [];
  let hasLength = false;
  let via: string | undefined;
  let proxyStatus: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || nominated?.has(lower)) continue;
    if (lower === 'content-length') hasLength = true;
    else if (lower === 'trailer' && !facts.trailers) continue;
    else if (lower === 'via') {
      via = via === undefined ? value : `${via}, ${value}`;
      continue;
    } else if (lower === 'proxy-status') {
      proxyStatus = proxyStatus === undefined ? value : `${proxyStatus}, ${value}`;
      continue;
    } else if (lower === 'x-request-id') continue;
    out.push(name, value);
  }
  out.push('via', via === undefined ? facts.via : `${via}, ${facts.via}`, 'x-request-id', facts.requestId);
  if (facts.proxyStatus !== undefined) {
    out.push(
      'proxy-status',
      proxyStatus === undefined ? facts.proxyStatus : `${proxyStatus}, ${facts.proxyStatus}`,
    );
  } else if (proxyStatus !== undefined) {
    out.push('proxy-status', proxyStatus);
  }
  return { headers: out, hasLength };
}
