import type CachePolicy from 'http-cache-semantics';
import { connectionNominated, isHopByHop } from '../../core/http1/hop-by-hop.ts';
import { trimOws } from '../../core/ows.ts';
import { opaque } from './conditional-hit.ts';
import { fieldDate } from './field-dates.ts';

/**
 * Fields a 304 does not change in the stored answer (RFC 9111 §3.2): its body's length, framing
 * and coding describe the stored body, not the 304's none; a Set-Cookie is one client's,
 * which a stored answer never holds (mayKeep), so every later hit would hand it to everyone; and
 * a Proxy-Status tells how the intermediaries behind handled the exchange the 304 ended (RFC
 * 9209: a cache behind that gave its stored answer for a failed origin names the failure), which
 * a later hit did not meet (StoredAnswer.fields sends none stored).
 */
const NOT_UPDATED = new Set([
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'content-range',
  'set-cookie',
  'proxy-status',
]);

/**
 * The stored answer's fields as a 304 to the cache's own validators updates them (RFC 9111
 * §3.2, §4.3.4): each field the 304 carries replaces or joins the stored one, the others stay.
 * A 304 without validators confirms the answer whose validators were sent (the store keeps one
 * per key; RFC 9110 §15.4.5 does not ask a 304 for Last-Modified). Undefined when its ETag names
 * another representation than the stored one, or, without an ETag, its Last-Modified another
 * instant than the stored one's (§4.3.4: its validators correspond to no stored response, and
 * it updates none; an origin comparing If-Modified-Since with `<=` answers 304 for a file put
 * back with an older date, which the stored body is not). The stored Age goes unless the 304
 * brings one: the answer is as old as the 304 from now on.
 */
export function updatedFields(
  stored: CachePolicy.Headers,
  notModified: CachePolicy.Headers,
): CachePolicy.Headers | undefined {
  const tag = stored.etag;
  const newTag = notModified.etag;
  if (typeof newTag === 'string' && !namedBy(tag, newTag)) return undefined;
  if (newTag === undefined && otherInstant(stored['last-modified'], notModified['last-modified']))
    return undefined;
  // No prototype: a field named `constructor` or `__proto__` is a field like any other.
  const out: CachePolicy.Headers = Object.create(null);
  for (const name of Object.keys(stored)) if (name !== 'age') out[name] = stored[name];
  // The 304's hop-by-hop fields are its connection's (§3.1 stores none): its Connection would
  // replace the stored one, and a field only the stored Connection named would reach clients.
  const named = connectionNominated([notModified.connection ?? []].flat());
  for (const name of Object.keys(notModified))
    if (!NOT_UPDATED.has(name) && !isHopByHop(name) && !named?.has(name)) out[name] = notModified[name];
  return out;
}

/**
 * Whether a 304 the cache did not ask for (one to a client's own validators, relayed to it)
 * identifies this stored answer (RFC 9111 §4.3.4): its ETag names the stored one (namedBy),
 * or, neither having one, its Last-Modified names the stored one's instant. A 304 without
 * validators identifies none: the client's validators may be of a copy the store never held.
 */
export function identifies(stored: CachePolicy.Headers, notModified: CachePolicy.Headers): boolean {
  const tag = notModified.etag;
  const held = stored.etag;
  if (typeof tag === 'string') return typeof held === 'string' && namedBy(held, tag);
  const modified = notModified['last-modified'];
  const storedModified = stored['last-modified'];
  if (held !== undefined || typeof modified !== 'string' || typeof storedModified !== 'string') return false;
  const at = fieldDate(modified);
  return !Number.isNaN(at) && at === fieldDate(storedModified);
}

/**
 * Whether a 304's ETag names the stored answer's (RFC 9111 §4.3.4): a strong one, only a stored
 * answer with that same strong tag (a stored `W/"x"` is not the representation `"x"` names); a
 * weak one, a stored tag it matches weakly. A stored answer without an ETag holds a validator of
 * another kind (its Last-Modified) or none: a 304 with an ETag does not contradict it (updatedFields
 * keeps one answer per key, whose validators were the ones sent).
 */
function namedBy(held: CachePolicy.Headers[string], given: string): boolean {
  if (typeof held !== 'string') return true;
  const a = trimOws(held);
  const b = trimOws(given);
  return b.startsWith('W/') ? opaque(a) === opaque(b) : a === b;
}

/** Two Last-Modified fields that both read as dates, and name different instants. */
function otherInstant(held: CachePolicy.Headers[string], given: CachePolicy.Headers[string]): boolean {
  if (typeof held !== 'string' || typeof given !== 'string') return false;
  const a = fieldDate(held);
  const b = fieldDate(given);
  return !Number.isNaN(a) && !Number.isNaN(b) && a !== b;
}
