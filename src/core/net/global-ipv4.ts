import net from 'node:net';

/**
 * The IPv4 blocks that are not global (RFC 5735 §3, as RFC 6052 §3.1 cites it, and RFC 6598's
 * shared address space): private, loopback, link-local, documentation, benchmarking, multicast,
 * reserved. The well-known NAT64 prefix `64:ff9b::/96` MUST NOT stand for one of them (RFC 6052
 * §3.1), so an address of the prefix that holds one is no translated IPv4 client.
 */
const NOT_GLOBAL: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

const notGlobal = new net.BlockList();
for (const [address, prefix] of NOT_GLOBAL) notGlobal.addSubnet(address, prefix, 'ipv4');

/**
 * Whether a (valid, dotted) IPv4 address is global: in none of the blocks above.
 *
 * @example isGlobalIPv4('8.8.8.8') // true
 * @example isGlobalIPv4('10.0.0.1') // false
 */
export function isGlobalIPv4(address: string): boolean {
  return !notGlobal.check(address, 'ipv4');
}
