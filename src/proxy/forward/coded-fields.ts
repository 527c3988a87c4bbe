/**
 * A response's fields as the compressing sink (compressing-sink.ts) sends them: once its body is
 * in a content coding (RFC 9110 §8.4), with `Vary: Accept-Encoding` added to the upstream's own,
 * and the fields of the request and response it reads to decide. Pure.
 */
import type { ContentCoding } from '../../core/config/types.ts';
import { DIGEST_FIELDS as DIGESTS, weakenedTag } from '../../core/net/coded-body-fields.ts';
import { joinedField } from '../../core/net/downstream.ts';
import { withoutListEnd } from '../../core/ows.ts';

/** The response's fields as they are once its body is in `coding`. */
export function compressedFields(headers: readonly string[], coding: ContentCoding): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    const value = headers[i + 1];
    // The length is the identity body's; the compressed one is framed as it goes.
    if (name === 'content-length' || name === 'content-encoding') continue;
    // Ranges are served from the identity body (a Range request is never compressed): a
    // client resuming this compressed download at byte N would splice in identity bytes.
    if (name === 'accept-ranges') continue;
    // Digests of the identity bytes (RFC 9530; RFC 3230's Digest, Content-MD5): a client that
    // checks them would take the compressed body for a corrupt one.
    if (DIGESTS.has(name)) continue;
    // The Trailer field announces the trailers to come (RFC 9110 §6.6.2): the digests among them
    // are dropped from the end as from the head (withoutDigests), so they are not announced.
    if (name === 'trailer') {
      const kept = withoutDigestNames(value);
      if (kept !== '') out.push(headers[i], kept);
      continue;
    }
    // RFC 9110 §8.8.1: another representation, so at most weakly the same.
    pushCoded(out, headers[i], name, value);
  }
  out.push('content-encoding', coding);
  return out;
}

/** A Trailer field's list of names without the digests' (empty when it named nothing else). */
function withoutDigestNames(value: string): string {
  return value
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '' && !DIGESTS.has(member.toLowerCase()))
    .join(', ');
}

/** Trailer fields (flat) without the digests of the identity bytes. */
export function withoutDigests(fields: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2)
    if (!DIGESTS.has(fields[i].toLowerCase())) out.push(fields[i], fields[i + 1]);
  return out;
}

/** A field of the identity body's answer onto `out` as a coded body's answer has it: an ETag made weak (weakenedTag), or left off. */
function pushCoded(out: string[], rawName: string, name: string, value: string): void {
  const tag = name === 'etag' ? weakenedTag(value) : value;
  if (tag !== undefined) out.push(rawName, tag);
}

/**
 * A 304's fields once the 200 it stands for is (or its client's copy was) in a coding: those of
 * that 200 (compressedFields), its ETag weak, and none of what an origin may send on a 304 of the
 * identity body (RFC 9110 §15.4.5: to guide a cache's update, which would put them on the
 * client's compressed copy): its digests, its Accept-Ranges, and its Content-Length (§8.6: only
 * the 200's, which a compressed one has none of).
 */
export function codedNotModified(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (DIGESTS.has(name) || name === 'accept-ranges' || name === 'content-length') continue;
    pushCoded(out, headers[i], name, headers[i + 1]);
  }
  return out;
}

export function isEventStream(headers: readonly string[]): boolean {
  return (joinedField(headers, 'content-type') ?? '').toLowerCase().startsWith('text/event-stream');
}

/**
 * `Vary: Accept-Encoding` added to the response's own Vary (left alone when it is `*` or says
 * it, in any of its fields: a list may come split over several, RFC 9110 §5.3).
 */
export function withVary(headers: readonly string[]): string[] {
  const out = headers.slice();
  let first = -1;
  for (let i = 0; i < out.length; i += 2) {
    if (out[i].toLowerCase() !== 'vary') continue;
    if (/(^|,)\s*(\*|accept-encoding)\s*(,|$)/i.test(out[i + 1])) return out;
    if (first === -1) first = i;
  }
  if (first === -1) out.push('vary', 'Accept-Encoding');
  else {
    // An empty Vary, or one ending in a comma, gets no empty member from this hop (RFC 9110
    // §5.6.1: a sender must not make one): `Vary: ` is `Accept-Encoding`, not `, Accept-Encoding`.
    const own = withoutListEnd(out[first + 1]);
    out[first + 1] = own === '' ? 'Accept-Encoding' : `${own}, Accept-Encoding`;
  }
  return out;
}

export function hasField(headers: readonly string[], lowerName: string): boolean {
  return joinedField(headers, lowerName) !== undefined;
}
