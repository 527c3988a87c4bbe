/**
 * The block of addresses one client holds, for a per-client share: an IPv4 address is one
 * client, while an IPv6 client is handed a whole /64 (RFC 6177, RFC 7934: one per link, and a
 * host picks its own addresses in it, privacy addresses rotating freely), so an IPv6 address
 * read alone gives a client as many shares as it cares to pick addresses. An IPv4-mapped IPv6
 * address (`::ffff:198.51.100.7`, how a dual-stack listener names an IPv4 peer) is its IPv4,
 * and so is one of the well-known NAT64 prefix (`64:ff9b::198.51.100.7`, RFC 6052: how an
 * IPv6-only gateway behind SIIT-DC sees IPv4 clients), whose /64 would hold them all.
 */
import { isIP } from 'node:net';

/**
 * `address` as the key of its client's share: an IPv4 address itself, an IPv6 one its /64
 * (`2001:db8:1:2::/64`); anything else (no address, a Unix socket's '') as it is.
 *
 * @example clientBlock('2001:db8:1:2:a:b:c:d') // '2001:db8:1:2::/64'
 * @example clientBlock('::ffff:198.51.100.7') // '198.51.100.7'
 */
export function clientBlock(address: string): string {
  const bare = address.split('%')[0]; // a zone (fe80::1%eth0) names the link, not the host
  if (isIP(bare) !== 6) return address;
  const groups = ipv6Groups(bare.toLowerCase());
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (mapped || nat64) return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (isIP checked it): `::` filled, an IPv4 tail as two. */
function ipv6Groups(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const read = (part: string | undefined): number[] =>
    part === undefined || part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const first = read(head);
  const last = read(tail);
  return [...first, ...Array(8 - first.length - last.length).fill(0), ...last];
}
