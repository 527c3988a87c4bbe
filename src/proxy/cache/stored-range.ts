import { httpDate } from '../../core/http-date.ts';
import { trimOws } from '../../core/http1/syntax.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { firstField } from '../../core/net/downstream.ts';
import { emptyAnswerFields } from './conditional-hit.ts';

/** An answer the cache makes of a stored one in its stead (a part of it, a 416, a 412): status, fields, body. */
export interface StoredPart {
  readonly status: number;
  readonly reason: string;
  readonly fields: string[];
  readonly body: Buffer | undefined;
}

/**
 * A GET's Range met by a stored 200 (RFC 9110 §14.2): one byte range is a 206 of those bytes, one
 * past the body's end a 416, and so are several none of which it has (noneSatisfiable); undefined
 * (the whole 200) for none, several ranges, another unit, a
 * range that does not read, a suffix of an empty body (§14.1.1), or an If-Range the stored answer fails (§13.1.5), as §14.2 allows.
 * Every stored 200 a GET is given meets it (a hit, a revalidated or stale one): a resumed
 * download or a video seek need not reach the origin, as with nginx's proxy_cache.
 */
export function storedPart(
  request: FieldMap,
  fields: readonly string[],
  body: Buffer,
): StoredPart | undefined {
  const part = rangeOf(request, fields, body.length);
  if (part === undefined) return undefined;
  const { status, reason, fields: out, first, last } = part;
  return { status, reason, fields: out, body: last < first ? undefined : body.subarray(first, last + 1) };
}

/** The answer a Range makes of a 200 of `length` bytes (storedPart): its bytes `first` to `last`, none for a 416 (last < first). */
export interface RangePart {
  readonly status: number;
  readonly reason: string;
  readonly fields: string[];
  readonly first: number;
  readonly last: number;
}

/** storedPart's judgement from the body's length alone (a body still streaming in: fill-follow.ts). */
export function rangeOf(request: FieldMap, fields: readonly string[], length: number): RangePart | undefined {
  const range = request.range;
  if (typeof range !== 'string') return undefined;
  const ifRange = request['if-range'];
  if (ifRange !== undefined && !ifRangeMatches(String(ifRange), fields)) return undefined;
  const asked = loneRangeSpec(range);
  if (asked === undefined) return noneSatisfiable(range, length) ? unsatisfiable(fields, length) : undefined;
  const [first, last] = asked;
  // An empty body's one satisfiable range is a suffix of some length (RFC 9110 §14.1.1): it is
  // the whole body, of no bytes, which no Content-Range can name: the whole 200, never a 416.
  if (length === 0 && first === '' && Number(last) > 0) return undefined;
  const start = first === '' ? Math.max(0, length - Number(last)) : Number(first);
  const end = first === '' || last === '' ? length - 1 : Math.min(Number(last), length - 1);
  if (first !== '' && last !== '' && Number(last) < start) return undefined;
  // Past the end, or a suffix of 0 bytes: nothing of it can be sent.
  if (start >= length || end < start) return unsatisfiable(fields, length);
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2)
    if (!OF_THE_WHOLE_BODY.has(fields[i].toLowerCase())) out.push(fields[i], fields[i + 1]);
  out.push('content-range', `bytes ${start}-${end}/${length}`, 'content-length', String(end - start + 1));
  return { status: 206, reason: 'Partial Content', fields: out, first: start, last: end };
}

/**
 * The stored 200's fields that speak of its whole body as the message's content, false of a 206's
 * part: its length, and its digests of the content (RFC 9530 §2's Content-Digest, Content-MD5),
 * which a client checking them would find the part fails. Repr-Digest and RFC 3230's Digest are
 * of the representation, the same whole body the part is of (RFC 9530 §3): they stay. And a
 * Content-Range a lax origin put on its 200 (meaningless there, RFC 9110 §14.4): kept, the 206
 * would name two parts, the origin's and its own.
 */
const OF_THE_WHOLE_BODY = new Set(['content-length', 'content-digest', 'content-md5', 'content-range']);

/** The 416 made of a stored answer: no body, its length in Content-Range (RFC 9110 §15.5.17). */
function unsatisfiable(fields: readonly string[], length: number): RangePart {
  return {
    status: 416,
    reason: 'Range Not Satisfiable',
    fields: [...emptyAnswerFields(fields), 'content-range', `bytes */${length}`],
    first: 0,
    last: -1,
  };
}

/**
 * A Range of several byte ranges none of which a body of `size` bytes has (RFC 9110 §14.1.1: no
 * first-pos under its length, no suffix of non-zero length): §14.2 asks for a 416 then, as nginx
 * and Caddy answer, where the whole 200 would send a client that asked for nothing of it the
 * whole body. False for a set that does not read (another unit, a range whose last is before its
 * first), which is ignored as one is, and for one satisfiable range among them.
 */
export function noneSatisfiable(range: string, size: number): boolean {
  const set = rangeSpecs(range);
  if (set === undefined) return false;
  let specs = 0;
  for (const spec of set) {
    const asked = /^(\d*)-(\d*)$/.exec(spec);
    if (asked === null || (asked[1] === '' && asked[2] === '')) return false;
    const [first, last] = asked.slice(1);
    if (first !== '' && last !== '' && Number(last) < Number(first)) return false;
    specs++;
    if (first === '' ? Number(last) > 0 : Number(first) < size) return false;
  }
  return specs > 0;
}

/**
 * The first-pos and last-pos (either may be empty) of a byte-range set that holds one range-spec,
 * its empty list elements dropped: `bytes=0-99,` is `bytes=0-99` (RFC 9110 §5.6.1, a recipient
 * must accept them). Undefined for another unit, several specs or none, or one that does not
 * read (`bytes=-`, `bytes=abc`).
 */
export function loneRangeSpec(range: string): [first: string, last: string] | undefined {
  const specs = rangeSpecs(range);
  if (specs === undefined || specs.length !== 1) return undefined;
  const asked = /^(\d*)-(\d*)$/.exec(specs[0]);
  return asked === null || (asked[1] === '' && asked[2] === '') ? undefined : [asked[1], asked[2]];
}

/** The range-specs of a `bytes=` Range, without OWS, empty list elements dropped; undefined for another unit. */
function rangeSpecs(range: string): string[] | undefined {
  const set = /^bytes=(.*)$/i.exec(range);
  if (set === null) return undefined;
  return set[1]
    .split(',')
    .map((element) => trimOws(element))
    .filter((spec) => spec !== '');
}

/**
 * If-Range (RFC 9110 §13.1.5): an entity-tag that is the stored strong ETag, or an HTTP-date that is
 * its Last-Modified exactly; a weak tag holds for none, and so does a date that is no HTTP-date
 * (§5.6.7: `2026-11-03T10:00:00Z`, which JavaScript reads) or a Last-Modified that is no strong
 * validator: one less than a second before the stored Date (§8.8.2.2), which may have changed
 * again within that second.
 */
function ifRangeMatches(value: string, fields: readonly string[]): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) {
    const etag = firstField(fields, 'etag');
    return etag !== undefined && !etag.startsWith('W/') && value === etag;
  }
  const modified = httpDate(firstField(fields, 'last-modified') ?? '');
  const date = httpDate(firstField(fields, 'date') ?? '');
  if (!Number.isNaN(date) && date - modified < 1000) return false;
  return !Number.isNaN(modified) && httpDate(value.trim()) === modified;
}
