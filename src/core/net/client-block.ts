/**
 * The block of addresses one client holds, for a per-client share: an IPv4 address is one
 * client, while an IPv6 client is handed a whole /64 (RFC 6177, RFC 7934: one per link, and a
 * host picks its own addresses in it, privacy addresses rotating freely), so an IPv6 address
 * read alone gives a client as many shares as it cares to pick addresses. An IPv4-mapped IPv6
 * address (`::ffff:198.51.100.7`, how a dual-stack listener names an IPv4 peer) is its IPv4,
 * and so is one of the well-known NAT64 prefix (`64:ff9b::198.51.100.7`, RFC 6052: how an
 * IPv6-only gateway behind SIIT-DC sees IPv4 clients), whose /64 would hold them all; not one
 * holding a non-global IPv4 (`64:ff9b::a00:1`), which the prefix never stands for: it is not the
 * inside client `10.0.0.1`, and would take that client's share.
 */
import { isIP } from 'node:net';
import { isGlobalIPv4 } from './global-ipv4.ts';
import { ipv4Of, ipv6Groups, isMapped, isNat64 } from './ip-address.ts';

/**
 * `address` as the key of its client's share: an IPv4 address itself, an IPv6 one its block of
 * `prefix` bits, a /64 unless told (`2001:db8:1:2::/64`; the groups past the prefix left out,
 * a group it cuts masked); anything else (no address, a Unix socket's '') as it is.
 *
 * @example clientBlock('2001:db8:1:2:a:b:c:d') // '2001:db8:1:2::/64'
 * @example clientBlock('2001:db8:1:2:a:b:c:d', 56) // '2001:db8:1:0::/56'
 * @example clientBlock('::ffff:198.51.100.7') // '198.51.100.7'
 */
export function clientBlock(address: string, prefix = 64): string {
  // No colon, no IPv6 address (a zone is only ever an IPv6 one's): an IPv4 client's key is its
  // address, without the split and the regular expressions of isIP (a request's admission asks).
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0]; // a zone (fe80::1%eth0) names the link, not the host
  if (isIP(bare) !== 6) return address;
  const groups = ipv6Groups(bare);
  // A NAT64 address of a non-global IPv4 is no translated client (RFC 6052 §3.1): its own /64.
  if (isMapped(groups) || (isNat64(groups) && isGlobalIPv4(ipv4Of(groups)))) return ipv4Of(groups);
  const kept = groups.slice(0, Math.ceil(prefix / 16)).map((group, i) => {
    const bits = Math.min(16, prefix - 16 * i);
    return (group & (0xffff << (16 - bits)) & 0xffff).toString(16);
  });
  return `${kept.join(':')}${kept.length === 8 ? '' : '::'}/${prefix}`;
}
