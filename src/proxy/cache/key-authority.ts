/** The default port of each scheme a stored answer's key is made for. */
const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };

/**
 * A request's authority as a stored answer's key holds it (RFC 9110 §4.2.3, RFC 9111 §2: the key
 * is the target URI, normalised): the host lowercased, and its port dropped when it is the
 * scheme's default or empty. `A.TEST`, `a.test:80` and `a.test:` on http are one `a.test`;
 * `a.test:443` on http is another resource, and kept as written.
 */
export function keyAuthority(authority: string, scheme: string): string {
  // A request's key, its forwarded part and its cache request each read its authority: the latest kept.
  if (authority === latest.authority && scheme === latest.scheme) return latest.normal;
  const lower = authority.toLowerCase();
  const colon = lower.lastIndexOf(':');
  const port = colon === -1 || colon < lower.lastIndexOf(']') ? undefined : lower.slice(colon + 1);
  const normal =
    port !== undefined && (port === '' || port === DEFAULT_PORT[scheme]) ? lower.slice(0, colon) : lower;
  latest = { authority, scheme, normal };
  return normal;
}

/** keyAuthority's latest answer. */
let latest = { authority: '', scheme: '', normal: '' };

/**
 * Whether a stored answer's key falls under a purge's prefix: from the key's start (`host[:port]
 * /path?query`), or, for a prefix that starts with "/", from its path, on every host. The
 * prefix's host is read as a key holds it: any case, and a whole authority with a scheme's
 * default port (`a.test:80 /page`) names that scheme's keys (`a.test /page… http`).
 */
export function keyMatches(key: string, prefix: string): boolean {
  if (prefix.startsWith('/')) return key.startsWith(prefix, key.indexOf(' ') + 1);
  const space = prefix.indexOf(' ');
  const host = (space === -1 ? prefix : prefix.slice(0, space)).toLowerCase();
  const rest = space === -1 ? '' : prefix.slice(space);
  if (key.startsWith(host + rest)) return true;
  if (space === -1) return false;
  for (const scheme of ['http', 'https']) {
    const normal = keyAuthority(host, scheme);
    if (normal !== host && key.startsWith(normal + rest) && key.split(' ')[2] === scheme) return true;
  }
  return false;
}
