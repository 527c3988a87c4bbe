/**
 * The one reader of an IP address's parts, for every place that keys or names a client by it
 * (trust lists, the IP lists' names, rate-limit keys, per-client bounds): an IPv4 client on a
 * dual-stack socket, or as a proxy wrote it, has many IPv6 spellings (`::ffff:10.0.0.1`,
 * `::FFFF:a00:1`, `0:0:0:0:0:ffff:10.0.0.1`), and each must read as the one `10.0.0.1`, or the
 * same client holds two buckets and two names. Node's BlockList matches them all alike.
 */
import net from 'node:net';

/**
 * An IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2), in any spelling, as its IPv4; any other
 * address (or text) as it is.
 *
 * @example unmapIPv4('::ffff:10.0.0.1') // '10.0.0.1'
 * @example unmapIPv4('::FFFF:a00:1') // '10.0.0.1'
 */
export function unmapIPv4(address: string): string {
  // How Node names a dual-stack listener's IPv4 peer (and a PROXY header's): no parse for it.
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return address.slice(7);
  // An IPv4 peer (every request's, on an IPv4 listener) pays one look for a colon.
  if (address.indexOf(':') === -1 || !/ffff/i.test(address) || !net.isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  return isMapped(groups) ? ipv4Of(groups) : address;
}

/**
 * A client's IPv6 address in its canonical text, as a socket's `remoteAddress` is written (RFC
 * 5952: compressed, lower case, an IPv4-mapped one `::ffff:1.2.3.4`, §5), whatever a PROXY
 * header's spelling: every name of the client (log, `{client_ip}`, X-Forwarded-For,
 * Forwarded) is made from this text by unmapIPv4. (A Host's IP literal is written as a WHATWG
 * URL parser writes it instead, `[::ffff:102:304]`: ip-literal.ts, for what an app reads.)
 */
export function canonicalIPv6(address: string): string {
  return new net.SocketAddress({ address, family: 'ipv6' }).address;
}

/** The eight groups hold an IPv4-mapped address: `::ffff:0:0/96`. */
export function isMapped(groups: readonly number[]): boolean {
  return (
    groups[5] === 0xffff &&
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0
  );
}

/**
 * The eight groups hold an address of the well-known NAT64 prefix, `64:ff9b::/96` (RFC 6052):
 * how an IPv6-only gateway behind SIIT-DC (or any stateless translator) sees an IPv4 client.
 */
export function isNat64(groups: readonly number[]): boolean {
  return (
    groups[0] === 0x64 &&
    groups[1] === 0xff9b &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0
  );
}

/**
 * The IPv4 client a NAT64 address (`64:ff9b::cb00:7101`, any spelling) stands for, or
 * undefined for any other address: the same host, which IP lists judge by either name and
 * rate limits key by its IPv4 (client-block.ts). Most addresses pay one look at their start.
 *
 * @example nat64IPv4('64:ff9b::203.0.113.1') // '203.0.113.1'
 */
export function nat64IPv4(address: string): string | undefined {
  if (!NAT64_START.test(address) || !net.isIPv6(address)) return undefined;
  const groups = ipv6Groups(address);
  return isNat64(groups) ? ipv4Of(groups) : undefined;
}

const NAT64_START = /^0{0,2}64:ff9b:/i;

/** The IPv4 address the last two groups hold, dotted. */
export function ipv4Of(groups: readonly number[]): string {
  return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
}

/**
 * The eight 16-bit groups of a valid IPv6 address without a zone (net.isIPv6 checked it), in
 * any case: `::` filled, an IPv4 tail as two.
 */
export function ipv6Groups(address: string): number[] {
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
