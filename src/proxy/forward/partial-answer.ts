/**
 * Whether an upstream's 206 is a part a client can place (RFC 9110 §14.4, §15.3.7). A single part
 * names its bytes in Content-Range, `bytes first-last/complete` or `bytes first-last/*`: first at
 * most last, last within the complete length, and the Content-Length it announces the part's size.
 * A 206 that does not is no part of anything: relayed, a resumed download would splice its bytes
 * at the wrong place, or a cache downstream keep them as the range they do not hold. It is the
 * upstream's bad answer (a header that is not valid HTTP: http_protocol_error, DESIGN.md's table).
 *
 * Not refused: a multipart/byteranges 206 (its parts name their own ranges), a Content-Range of
 * another range unit (opaque, §14.4's other-range-resp), a part whose range is not the one asked
 * (a server may coalesce or answer another satisfiable part, §14.2, and says which), and a 206 to
 * a request that sent no Range: the server's fault (§15.3.7), but a well-formed part a client can
 * still read, which the cache meets as an origin of parts only (cache-run.ts).
 */
import { Failure } from '../../core/failure/failure.ts';
import { snippet } from '../../core/http1/syntax.ts';
import { joinedField } from '../../core/net/downstream.ts';
import type { UpstreamHead } from '../../upstream/connections/exchange-contract.ts';

/** A byte range's Content-Range (range-unit SP range-resp): first, last, complete length or `*`; numbers under 2^53. */
const BYTE_RANGE = /^bytes +(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i;

/** A range unit's name opening the field (a token, §14.1), when it is another than bytes. */
const OTHER_UNIT = /^(?!bytes )[!#$%&'*+.^_`|~0-9a-z-]+ /i;

/** The 206's refusal (the exchange says with what it came: `received-status=206`), or undefined for a part it may relay. */
export function partialRefusal(answer: UpstreamHead): Failure | undefined {
  const details = partialFault(answer);
  return details === undefined
    ? undefined
    : new Failure('http_protocol_error', details, { stage: 'head_received' });
}

/** What is wrong with a 206's Content-Range, in its failure's words; undefined when nothing is. */
function partialFault({ headers, hasBody, bodyLength }: UpstreamHead): string | undefined {
  const range = joinedField(headers, 'content-range');
  if (range === undefined) {
    const type = joinedField(headers, 'content-type') ?? '';
    return /^\s*multipart\/byteranges\s*(;|$)/i.test(type)
      ? undefined
      : '206 Partial Content without Content-Range';
  }
  const part = BYTE_RANGE.exec(range);
  if (part === null)
    return OTHER_UNIT.test(range)
      ? undefined
      : `206 Partial Content with an unreadable Content-Range ${snippet(range)}`;
  const first = Number(part[1]);
  const last = Number(part[2]);
  if (last < first) return `206 Partial Content whose Content-Range ${snippet(range)} ends before it starts`;
  if (part[3] !== '*' && last >= Number(part[3]))
    return `206 Partial Content whose Content-Range ${snippet(range)} ends past its complete length`;
  const size = last - first + 1;
  if (hasBody && bodyLength !== undefined && bodyLength !== size)
    return `206 Partial Content whose Content-Range ${snippet(range)} names ${size} bytes and whose Content-Length is ${bodyLength}`;
  return undefined;
}
