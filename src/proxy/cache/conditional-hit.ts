import type { FieldMap } from '../../core/net/downstream.ts';

/**
 * A client's own conditional GET or HEAD met by a stored 200 (RFC 9111 §4.3.2): the cache
 * evaluates the preconditions itself (RFC 9110 §13.2.2) and answers 304 when the client's copy
 * is the stored one. If-None-Match is compared weakly (§13.1.2: a GET's validators may be weak),
 * so the weak ETag a compressing route gave matches its stored strong one; If-Modified-Since
 * counts only without If-None-Match, and only when both dates read: the stored Last-Modified,
 * or, without one, its Date (§4.3.2: the cache SHOULD; fields() always has one, the time it came
 * when the upstream sent none).
 */
export function notModified(request: FieldMap, fields: readonly string[]): boolean {
  const match = request['if-none-match'];
  if (match !== undefined) {
    const etag = fieldOf(fields, 'etag');
    if (etag === undefined) return false;
    const own = opaque(etag);
    // Quoted tags whole (one may hold a comma: RFC 9110 §8.8.3's etagc), else what lies between
    // commas (`*`, or an unquoted tag a lax origin sent and its client sends back as it is).
    for (const tag of String(match).match(/(?:W\/)?"[^"]*"|[^,\s]+/g) ?? [])
      if (tag === '*' || opaque(tag) === own) return true;
    return false;
  }
  const since = request['if-modified-since'];
  if (since === undefined) return false;
  const modified = Date.parse(fieldOf(fields, 'last-modified') ?? fieldOf(fields, 'date') ?? '');
  const asOf = Date.parse(String(since));
  return !Number.isNaN(modified) && !Number.isNaN(asOf) && modified <= asOf;
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
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2)
    if (KEPT.has(fields[i].toLowerCase())) out.push(fields[i], fields[i + 1]);
  return out;
}

/** An entity tag without its weakness (W/): what weak comparison compares. */
export function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function fieldOf(fields: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i].toLowerCase() === lowerName) return fields[i + 1];
  return undefined;
}
