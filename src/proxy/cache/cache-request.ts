import type { FieldMap } from '../../core/net/downstream.ts';
import { fieldsAfterAccess } from '../admit/fields-after-access.ts';
import type { ForwardedRequest } from '../stages/stage.ts';
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
 * client's). The client's Authorization stays (fieldsAfterAccess: §3.5 reads it).
 */
export function cacheRequestOf(
  sent: ForwardedRequest,
  fields: FieldMap,
  scheme: string,
  asked: { readonly askedAt: number },
): CacheRequest {
  // Its host as the key holds it: a stored answer compares it with the one it was stored for.
  const host = keyAuthority(sent.authority, scheme);
  // Vary compares the lists a variant is chosen by as their syntax reads them (vary-fields.ts).
  const headers = varyNormal({ ...fieldsAfterAccess(sent.headers, fields, (each) => [...each]), host });
  return {
    method: 'GET',
    url: sent.path,
    headers,
    // Read when its answer comes: it may have waited on another request's fetch before it went.
    get askedAt() {
      return asked.askedAt;
    },
  };
}

/**
 * The request goes upstream whatever is stored: a GET's range (the store keeps whole answers), or a
 * precondition a stored 200 would not evaluate, If-Match or If-Unmodified-Since (a 412 when one
 * fails, RFC 9110 §13.2.1: a hit ignored it, and a client's lost update got a 200 of the page).
 * Not with only-if-cached (RFC 9111 §5.2.1.7: a stored answer or a 504): a fresh stored answer
 * meets them itself (delivery.ts: a 206, a 412), as a stale one standing in does. A HEAD's Range
 * is no range: §14.2 defines range handling for GET alone and a server "MUST ignore" it on
 * another method, so a HEAD with one is answered from the store as one without (the whole 200's
 * head, as a static route answers it).
 */
export function bypassesStore(fields: FieldMap, method: string): boolean {
  return (
    ((fields.range !== undefined && method === 'GET') ||
      fields['if-match'] !== undefined ||
      fields['if-unmodified-since'] !== undefined) &&
    !onlyIfCached(fields, undefined)
  );
}
