import { httpDate } from '../../core/http-date.ts';
import { type FieldMap, firstField } from '../../core/net/downstream.ts';
import { fieldDate } from './field-dates.ts';

/**
 * A client's own conditional GET or HEAD met by a stored 200 (RFC 9111 §4.3.2): the cache
 * evaluates the preconditions itself (RFC 9110 §13.2.2) and answers 304 when the client's copy
 * is the stored one (`If-None-Match: *`: whatever it is). If-None-Match is compared weakly (§13.1.2: a GET's validators may be weak),
 * so the weak ETag a compressing route gave matches its stored strong one; If-Modified-Since
 * counts only without If-None-Match, and only when both dates read (the client's an HTTP-date,
 * §13.1.3: `2026` is none, and the field is ignored): the stored Last-Modified,
 * or, without one, its Date (§4.3.2: the cache SHOULD; fields() always has one, the time it came
 * when the upstream sent none).
 */
export function notModified(request: FieldMap, fields: readonly string[]): boolean {
  const match = request['if-none-match'];
  if (match !== undefined) {
    // `*` is met by any current representation, the stored one with or without an ETag (§13.1.2).
    const etag = firstField(fields, 'etag');
    const own = etag === undefined ? undefined : opaque(etag);
    for (const tag of tagsOf(match)) if (tag === '*' || opaque(tag) === own) return true;
    return false;
  }
  const since = request['if-modified-since'];
  if (since === undefined) return false;
  const modified = fieldDate(firstField(fields, 'last-modified') ?? firstField(fields, 'date'));
  const asOf = httpDate(String(since).trim());
  return !Number.isNaN(modified) && !Number.isNaN(asOf) && modified <= asOf;
}

/**
 * A client's If-Match or If-Unmodified-Since that a stored 2xx fails (RFC 9110 §13.2.2, steps 1
 * and 2): the origin would answer 412. A fresh stored answer meets them only with
 * only-if-cached (else they go upstream: cache-request.ts's bypassesStore); a stale one
 * standing in for a failed upstream does, and gave its 200: a client's lost update took the page
 * it meant to replace for the current one.
 * If-Match compares strongly (§13.1.1: a weak tag matches nothing; `*`, any stored answer);
 * If-Unmodified-Since counts only without If-Match, and is ignored when either date does not
 * read (§13.1.4: no modification date, nothing to compare).
 */
export function preconditionFailed(request: FieldMap, fields: readonly string[]): boolean {
  const match = request['if-match'];
  if (match !== undefined) {
    const etag = firstField(fields, 'etag');
    const strong = etag !== undefined && !etag.startsWith('W/');
    for (const tag of tagsOf(match)) if (tag === '*' || (strong && tag === etag)) return false;
    return true;
  }
  const since = request['if-unmodified-since'];
  if (since === undefined) return false;
  const modified = fieldDate(firstField(fields, 'last-modified'));
  const asOf = httpDate(String(since).trim());
  return !Number.isNaN(modified) && !Number.isNaN(asOf) && modified > asOf;
}

/**
 * The entity-tags of an If-Match or If-None-Match: quoted tags whole (one may hold a comma: RFC
 * 9110 §8.8.3's etagc), else what lies between commas (`*`, or an unquoted tag a lax origin sent
 * and its client sends back as it is).
 */
function tagsOf(field: string | string[]): string[] {
  return String(field).match(/(?:W\/)?"[^"]*"|[^,\s]+/g) ?? [];
}

/** The stored answer's fields a 412 or a 416 made of it carries: its validators and Date (nothing that would let a cache keep it). */
const EMPTY = new Set(['date', 'etag', 'last-modified']);

/** The fields of an answer without a body made of a stored one (a 412, a 416): EMPTY's, and the body's length, 0. */
export function emptyAnswerFields(fields: readonly string[]): string[] {
  const out = fieldsIn(fields, EMPTY);
  out.push('content-length', '0');
  return out;
}

/**
 * The fields a 304 carries of its 200 (RFC 9110 §15.4.5: those a 200 would have, for a cache to
 * update with; Last-Modified too, and the stored answer's Age). Representation metadata (type,
 * length, coding) and the rest stay out.
 */
const KEPT = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
  'age',
]);

/** The stored 200's fields that its 304 carries. */
export function notModifiedFields(fields: readonly string[]): string[] {
  return fieldsIn(fields, KEPT);
}

function fieldsIn(fields: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2)
    if (names.has(fields[i].toLowerCase())) out.push(fields[i], fields[i + 1]);
  return out;
}

/** An entity tag without its weakness (W/): what weak comparison compares. */
export function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
