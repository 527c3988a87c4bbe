import net from 'node:net';

/**
 * A list of IP addresses and CIDR blocks (IPv4 and IPv6) that says which of its entries an
 * address falls in. Node's BlockList does the matching, IPv4-mapped IPv6 included both ways
 * ("::ffff:10.0.0.1" is in "10.0.0.0/8", "10.0.0.1" in "::ffff:10.0.0.0/104").
 */
export interface AddressList {
  /** The entry (as written) the address falls in; undefined when none, or the address is not one. */
  match(address: string): string | undefined;
}

/** One BlockList of the entries (addresses and CIDR blocks, both families): what every list of addresses matches with. */
export function blockListOf(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/**
 * Whether two entries (addresses or CIDR blocks, as the config writes them) share an address:
 * of two blocks one holds the other or neither holds any of the other's, so one holds the
 * other's written address. Matched as the lists match (an IPv4-mapped block holds its IPv4).
 */
export function entriesOverlap(a: string, b: string): boolean {
  const holds = (entry: string, other: string) => {
    const [address] = other.split('/');
    return blockListOf([entry]).check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  };
  return holds(a, b) || holds(b, a);
}

/** Entries are validated by the config loader (addressOrCidrProblem). */
export function createAddressList(entries: readonly string[]): AddressList {
  const all = blockListOf(entries);
  // One list per entry, asked only to name the entry once the whole list matched.
  const each = entries.map((entry) => ({ entry, list: blockListOf([entry]) }));
  const match = (address: string): string | null => {
    const family = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : undefined;
    if (family === undefined || !all.check(address, family)) return null;
    return each.find(({ list }) => list.check(address, family))?.entry ?? null;
  };
  const remembered = rememberedByAddress(match);
  return { match: (address) => remembered(address) ?? undefined };
}

/** How many addresses a list remembers its answer for (rememberedByAddress). */
const REMEMBERED = 256;

/**
 * `answer` with its answers for the latest addresses asked kept: a BlockList parses the address
 * it is asked of each time (some 0.8 µs in node 24 for a list of three blocks, an IP list's
 * request), and a route's clients, or the proxies in front of the gateway, are mostly the same
 * few. Emptied when REMEMBERED addresses are kept, so clients that come from ever new addresses
 * cost what they did without it, and a list holds some 20 KB at most.
 */
export function rememberedByAddress<T extends NonNullable<unknown> | null>(
  answer: (address: string) => T,
): (address: string) => T {
  const kept = new Map<string, T>();
  return (address) => {
    const known = kept.get(address);
    if (known !== undefined) return known;
    const found = answer(address);
    if (kept.size >= REMEMBERED) kept.clear();
    kept.set(address, found);
    return found;
  };
}
