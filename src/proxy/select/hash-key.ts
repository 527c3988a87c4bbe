import type { HashKey } from '../../core/config/types.ts';
import { cookieValue } from '../../core/http1/cookie.ts';

/**
 * What the hash balancer hashes for this request: the client address, a header's value or a
 * cookie's. A request without that header or cookie is keyed by its client address, so it
 * still sticks to one target.
 */
export function hashKeyOf(
  key: HashKey,
  req: { readonly headers: Readonly<Record<string, string | string[] | undefined>> },
  clientAddress: string,
): string {
  if (key.kind === 'client') return clientAddress;
  if (key.kind === 'header') {
    const value = req.headers[key.name];
    const text = Array.isArray(value) ? value.join(', ') : value;
    return text === undefined || text === '' ? clientAddress : text;
  }
  return cookieValue(req.headers.cookie, key.name) ?? clientAddress;
}
