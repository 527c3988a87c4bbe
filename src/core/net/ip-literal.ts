/**
 * An IPv6 address has many spellings (`[::1]`, `[0::1]`, `[0:0:0:0:0:0:0:1]`, upper-case hex)
 * and one canonical text (RFC 5952: lower case, the longest run of zeros compressed), which a
 * WHATWG URL parser (Node's, a browser's) gives every one of them. A host compared by its
 * spelling would send `[0::1]` past the route written for `[::1]` (and its policy) to the
 * catch-all, while an app that parses its Host reads the same address: so hosts are compared
 * in that one form, in the config as in the request.
 */

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
