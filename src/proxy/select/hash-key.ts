import type { HashKey } from '../../core/config/types.ts';
import { cookieValue } from '../../core/http1/cookie.ts';
import { joinedValue } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { forwardedClient, type TrustList } from '../../core/net/trust.ts';

/**
 * What the hash balancer hashes for this request: the client address, a header's value or a
 * cookie's. A request without that header or cookie is keyed by its client address, so it
 * still sticks to one target. The client is the one the IP lists judge: behind trusted proxies
 * (`trust_forwarded_from`), the one they vouch for in X-Forwarded-For (or Forwarded), else the peer (or its
 * PROXY header's) `peer`; read only when the key needs it. `clientKey`: what of the client
 * address is its key (a split's: its block, client-block.ts); the address itself by default.
 */
export function hashKeyOf(
  key: HashKey,
  req: { readonly headers: Readonly<Record<string, string | string[] | undefined>> },
  peer: string,
  trust: TrustList,
  clientKey: (address: string) => string = (address) => address,
): string {
  const { headers } = req;
  if (key.kind === 'header') {
    const value = headers[key.name];
    const text = joinedValue(value);
    // Host as routes read it (any case, a trailing dot, a port: one host), as a rate limit keys it.
    if (text !== undefined && text !== '') return key.name === 'host' ? hostnameOf(text) : text;
  } else if (key.kind === 'cookie') {
    const value = cookieValue(headers.cookie, key.name);
    if (value !== undefined) return value;
  }
  return clientKey(forwardedClient(peer, headers, trust));
}
