import { connectionNominated, isHopByHop } from './hop-by-hop.ts';

export interface ResponseFacts {
  readonly requestId: string;
  /** "1.1 edge-1". */
  readonly via: string;
  /** This gateway's Proxy-Status member, appended to the upstream's own when present. */
  readonly proxyStatus: string | undefined;
}

export interface DownstreamHead {
  readonly headers: string[];
  /** The response has a Content-Length (otherwise Node frames it, chunked for HTTP/1.1 clients). */
  readonly hasLength: boolean;
  /** The upstream framed the body by closing the connection (no length, not chunked). */
  readonly closeDelimited: boolean;
  /** A transfer coding other than chunked (e.g. "gzip"): Candor cannot re-frame a body it cannot decode. */
  readonly unsupportedCoding: string | undefined;
}

/**
 * The downstream response's headers from the upstream's raw head: hop-by-hop fields out,
 * Via, X-Request-Id and (on errors the upstream made) Proxy-Status in.
 */
export function buildDownstreamHead(raw: readonly (Buffer | string)[], facts: ResponseFacts): DownstreamHead {
  const names: string[] = new Array(raw.length >> 1);
  const values: string[] = new Array(raw.length >> 1);
  const connection: string[] = [];
  for (let i = 0, j = 0; i < raw.length; i += 2, j++) {
    names[j] = raw[i].toString();
    values[j] = raw[i + 1].toString('latin1');
    if (names[j].length === 10 && names[j].toLowerCase() === 'connection') connection.push(values[j]);
  }
  const nominated = connectionNominated(connection);
  const out: string[] = [];
  let hasLength = false;
  let chunked = false;
  let unsupportedCoding: string | undefined;
  let via: string | undefined;
  let proxyStatus: string | undefined;
  for (let j = 0; j < names.length; j++) {
    const lower = names[j].toLowerCase();
    if (lower === 'transfer-encoding') {
      chunked = true;
      if (values[j].trim().toLowerCase() !== 'chunked') unsupportedCoding = values[j];
    }
    if (isHopByHop(lower) || nominated?.has(lower)) continue;
    if (lower === 'content-length') hasLength = true;
    else if (lower === 'via') {
      via = via === undefined ? values[j] : `${via}, ${values[j]}`;
      continue;
    } else if (lower === 'proxy-status') {
      proxyStatus = proxyStatus === undefined ? values[j] : `${proxyStatus}, ${values[j]}`;
      continue;
    } else if (lower === 'x-request-id') continue;
    out.push(names[j], values[j]);
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
  return { headers: out, hasLength, closeDelimited: !hasLength && !chunked, unsupportedCoding };
}
