/**
 * An IP address has many spellings in a host, and a WHATWG URL parser (Node's, a browser's)
 * reads each as the one canonical text: for IPv6 RFC 5952's (`[::1]` for `[0::1]`,
 * `[0:0:0:0:0:0:0:1]`, upper-case hex), for IPv4 the dotted quad (`127.0.0.1` for `127.1`,
 * `0x7f.0.0.1`, `2130706433`, `127.0.0.01`; `010.0.0.5` is octal: `8.0.0.5`). A host compared
 * by its spelling would send `[0::1]` or `10.0.5` past the route written for `[::1]` or
 * `10.0.0.5` (and its policy) to the catch-all, while an app that parses its Host reads the
 * same address: so hosts are compared in that one form, in the config as in the request. It
 * writes an IPv4-mapped literal in hex (`[::ffff:102:304]`), where a client's address is
 * written as its socket's is (`::ffff:1.2.3.4`, ip-address.ts): a host and a client are never
 * compared, and each is spelled as what reads it spells it.
 */
import { isIP } from 'node:net';

/**
 * "[0:0::1]" → "[::1]", or undefined when the brackets hold no IPv6 address (`[1.2.3.4]`).
 *
 * @example canonicalIpLiteral('[2001:DB8:0:0:1:0:0:1]') // '[2001:db8::1:0:0:1]'
 */
export function canonicalIpLiteral(bracketed: string): string | undefined {
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * A lower-case host without its trailing dot, with an IPv4 address in any spelling a WHATWG
 * URL parser takes written as its dotted quad; any other host as it is (a name; or one that
 * ends in a number but is no address, `1.2.3.4.5`, which such a parser refuses).
 *
 * @example canonicalHost('0x7f.1') // '127.0.0.1'
 */
export function canonicalHost(host: string): string {
  // WHATWG URL's "ends in a number": a last label of digits, or 0x and hex. A name never does
  // (no top-level domain is numeric), so a name costs one look at its last label.
  const last = host.slice(host.lastIndexOf('.') + 1);
  if (!/^(?:\d+|0x[0-9a-f]*)$/.test(last) || isIP(host) === 4) return host;
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return host;
  }
}
