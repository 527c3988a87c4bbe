/**
 * The host of a URL asked over plain http of another machine, where what travels can be read or
 * changed on the way (a JWKS's keys, RFC 8725 §3.1; etcd's user and password); undefined for
 * https, loopback, or no URL.
 */
export function plainRemoteHost(url: string | undefined): string | undefined {
  const parsed = url === undefined ? null : URL.parse(url);
  if (parsed === null || parsed.protocol !== 'http:') return undefined;
  const host = parsed.hostname;
  // (127.0.0.0/8 also as IPv6 writes it mapped: URL gives `[::ffff:7f00:1]` for [::ffff:127.0.0.1].)
  if (host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)) return undefined;
  if (/^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)) return undefined;
  return host;
}
