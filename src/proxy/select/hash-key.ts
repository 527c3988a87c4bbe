import type { HashKey } from '../../core/config/types.ts';
import { trimOws } from '../../core/http1/syntax.ts';

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

/** The first cookie of this name in a Cookie header (RFC 6265 §5.4: "a=1; b=2"), as sent. */
function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (text === undefined) return undefined;
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && trimOws(pair.slice(0, eq)) === name) {
      const value = trimOws(pair.slice(eq + 1));
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
