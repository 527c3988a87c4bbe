import { canonicalHost, canonicalIpLiteral } from './ip-literal.ts';

/**
 * "API.example.com:8080" → "api.example.com"; "[0::1]:80" → "[::1]"; "127.1" → "127.0.0.1". A
 * fully qualified name's trailing dot goes ("api.example.com." is "api.example.com", as nginx
 * and most servers read it), and an IP address is in its canonical form (ip-literal.ts):
 * kept as spelled, either would miss the host's route, and its policy, for the catch-all's.
 */
export function hostnameOf(authority: string): string {
  // A connection's requests, and most of a gateway's, name the same authority: the last one's
  // hostname serves it again (a pure function of it). Made anew, it cost a request some 0.15 µs
  // under perf (a lower-cased copy, the address's two regular expressions, and the new string's
  // hash in the router's map).
  if (authority !== lastAuthority) {
    lastHostname = canonicalHostname(authority);
    lastAuthority = authority;
  }
  return lastHostname;
}

/** The last authority hostnameOf read, and its hostname. */
let lastAuthority = '';
let lastHostname = '';

/** hostnameOf's reading, made for an authority it has not just read. */
function canonicalHostname(authority: string): string {
  const literal = authority.charCodeAt(0) === 0x5b; /* [ */
  const end = literal ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  const host = end > 0 ? authority.slice(0, end) : authority;
  if (literal) return canonicalIpLiteral(host) ?? host.toLowerCase();
  return canonicalHost(
    (host.length > 1 && host.charCodeAt(host.length - 1) === 0x2e /* . */
      ? host.slice(0, -1)
      : host
    ).toLowerCase(),
  );
}
