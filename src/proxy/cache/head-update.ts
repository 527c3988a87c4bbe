import type CachePolicy from 'http-cache-semantics';
import { trimOws } from '../../core/ows.ts';
import { opaque } from './conditional-hit.ts';
import { fieldDate } from './field-dates.ts';

/**
 * What a 200 to a HEAD the cache forwarded says of the stored GET answer it could have been
 * given from (RFC 9111 §4.3.5): `update`, every validator it brings (ETag, Last-Modified) has the
 * stored answer's value, at least one does, and its Content-Length, if any, is the stored body's:
 * its fields update the stored ones, as a 304's would; `stale`, one differs (or the stored answer
 * has none of it), or the length does: the stored answer is no longer the resource's; undefined,
 * it brings no validator to compare, and says nothing of it.
 */
export function headVerdict(
  stored: CachePolicy.Headers,
  bodyLength: number,
  head: CachePolicy.Headers,
): 'update' | 'stale' | undefined {
  const length = head['content-length'];
  if (typeof length === 'string' && Number(trimOws(length)) !== bodyLength) return 'stale';
  let matched = false;
  for (const name of ['etag', 'last-modified']) {
    const received = head[name];
    if (typeof received !== 'string') continue;
    const held = stored[name];
    if (typeof held !== 'string' || !sameValidator(name, held, received)) return 'stale';
    matched = true;
  }
  return matched ? 'update' : undefined;
}

/** ETags by the weak comparison (RFC 9110 §8.8.3.2), as a 304's; dates by the instant they name. */
function sameValidator(name: string, held: string, received: string): boolean {
  const a = trimOws(held);
  const b = trimOws(received);
  if (name === 'etag') return opaque(a) === opaque(b);
  return a === b || (!Number.isNaN(fieldDate(a)) && fieldDate(a) === fieldDate(b));
}
