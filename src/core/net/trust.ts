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
