import net from 'node:net';

/** Which client addresses are proxies whose X-Forwarded-* headers we keep. Built once per config. */
export interface TrustList {
  has(address: string): boolean;
}

export function createTrustList(entries: readonly string[]): TrustList {
  if (entries.length === 0) return { has: () => false };
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return { has: (address) => checkAddress(list, address) };
}

function checkAddress(list: net.BlockList, address: string): boolean {
  const plain = unmapIPv4(address);
  return list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
}

/** "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) → "10.0.0.1". */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The client a chain of trusted proxies vouches for: X-Forwarded-For read from its right end
 * (the entry the peer itself wrote) while the hop that wrote it is trusted, as nginx's
 * `real_ip_recursive` reads it. The peer's own address when the peer is not trusted, or sent
 * none; an entry that is not an address ends the walk at the last hop vouched for (what lies
 * left of it is no trusted proxy's word). Only a trusted proxy's entries are read, so no
 * client can write the address this gives.
 */
export function forwardedClient(
  peer: string,
  forwardedFor: string | readonly string[] | undefined,
  trust: TrustList,
): string {
  if (forwardedFor === undefined || !trust.has(peer)) return peer;
  const entries = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = unmapIPv4(withoutPort(entries[i].trim()));
    if (net.isIP(entry) === 0) break;
    client = entry;
    if (!trust.has(entry)) break;
  }
  return client;
}

/** "203.0.113.9:4711" and "[2001:db8::1]:4711" (some proxies write the client's port) as the address alone. */
function withoutPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end === -1 ? entry : entry.slice(1, end);
  }
  const colon = entry.indexOf(':');
  return colon !== -1 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}
