import { type FieldMap, fieldMap, joinedValue } from '../../core/net/downstream.ts';
import type { ForwardedRequest, StageRequest } from '../stages/stage.ts';
import type { ForwardReason } from './cache-status.ts';
import { outsideQuotes } from './directive-case.ts';
import { keyAuthority } from './key-authority.ts';
import { onlyIfCached } from './request-directives.ts';
import type { CacheRequest } from './stored-answer.ts';
import { varyNormal } from './vary-fields.ts';

/**
 * The request a route's cache compares stored answers with (RFC 9111 §4): a GET (a HEAD is
 * answered from a GET's stored answer) of the path the upstream receives, with the fields the
 * upstream gets (`sent`: what every attempt sends), Vary being matched on them (§4.1): auth's and the
 * route's rules', never the client's own copies, and this hop's own (X-Forwarded-For, Forwarded:
 * an answer that varies on the client's address, read by the upstream there, is no other
 * client's). The client's Authorization stays (fieldsAfterAccess: §3.5 reads it), and a request
 * the route's authentication let in is `authenticated` whatever it proved itself with (a session
 * cookie, a JWT from a cookie, a client certificate, forward auth): §3.5 reads it as one with
 * Authorization. The gateway did the sign-in, so the app may not know a shared cache stands
 * before it: its `max-age=60` page of one user was stored and given to the next.
 */
export function cacheRequestOf(
  sent: ForwardedRequest,
  fields: FieldMap,
  scheme: string,
  asked: { readonly askedAt: number },
  authenticated: boolean,
): CacheRequest {
  // Its host as the key holds it: a stored answer compares it with the one it was stored for.
  const host = keyAuthority(sent.authority, scheme);
  // Vary compares the lists a variant is chosen by as their syntax reads them (vary-fields.ts).
  const headers = varyNormal(sentFields(sent.headers, fields, host));
  return {
    method: 'GET',
    url: sent.path,
    headers,
    authenticated,
    // Read when its answer comes: it may have waited on another request's fetch before it went.
    get askedAt() {
      return asked.askedAt;
    },
  };
}

/**
 * The fields the upstream gets (flat) by lowercase name, as fieldsAfterAccess reads them (the
 * client's Authorization in when they lack one), Host the key's: one map, made once, with
 * Object's prototype, as the spread copy of one was that it replaces (a copy of the fields, their
 * map and the map's copy were 2.6 KB of a cache hit's allocations).
 */
function sentFields(raw: readonly string[], fields: FieldMap, host: string): FieldMap {
  const out = fieldMap(raw) as Record<string, string | string[] | undefined>;
  const authorization = joinedValue(fields.authorization);
  if (authorization !== undefined && out.authorization === undefined) out.authorization = authorization;
  Object.setPrototypeOf(out, Object.prototype);
  out.host = host;
  return out;
}

/**
 * The request goes upstream whatever is stored: a precondition a stored 200 would not evaluate,
 * If-Match or If-Unmodified-Since (a 412 when one fails, RFC 9110 §13.2.1: a hit ignored it, and a
 * client's lost update got a 200 of the page). Not with only-if-cached (RFC 9111 §5.2.1.7: a stored
 * answer or a 504): a fresh stored answer meets them itself (delivery.ts: a 412), as a stale one
 * standing in does. A GET's Range is met by the stored answer it may be given (delivery.ts: a 206,
 * a 416, or the whole 200 RFC 9110 §14.2 allows), as nginx's proxy_cache and a static file meet
 * it: a resumed download or a video seek need not reach the origin.
 */
export function bypassesStore(fields: FieldMap): boolean {
  return (
    (fields['if-match'] !== undefined || fields['if-unmodified-since'] !== undefined) &&
    !onlyIfCached(fields, undefined)
  );
}

/**
 * A GET's Range that goes upstream does not fetch its key for others (it waits for a fetch under
 * way, as any request does): the upstream's 206 is not kept, and the requests that waited for it
 * would then all go upstream at once. Nothing stored, its key is fetched whole instead (fetchesWhole).
 */
export function asksForPart(fields: FieldMap, method: string): boolean {
  return fields.range !== undefined && method === 'GET';
}

/**
 * A GET's Range that finds no stored answer of its variant: the whole answer is fetched in the
 * background, without Range and If-Range (refresh-exchange.ts), stored, and the part cut from it
 * (stored-range.ts), as nginx's proxy_cache does: a resumed download or a video seek of a file
 * not yet stored fills the store. Not for only-if-cached (its 504, RFC 9111 §5.2.1.7), nor for a
 * request that says `no-store` (§5.2.1.5: nothing of its answer may be stored): those go as sent.
 */
export function fetchesWhole(request: StageRequest, reason: ForwardReason): boolean {
  const { fields, head } = request;
  return (
    (reason === 'uri-miss' || reason === 'vary-miss') &&
    asksForPart(fields, head.method) &&
    !onlyIfCached(fields, undefined) &&
    !NO_STORE.test(outsideQuotes(String(fields['cache-control'] ?? '')))
  );
}

/** `no-store` as a directive of its own (not a part of an extension's name). */
const NO_STORE = /(^|[\s,])no-store([\s,=]|$)/i;
