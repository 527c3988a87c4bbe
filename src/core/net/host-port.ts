/**
 * An address as `host:port`, an IPv6 host in brackets (RFC 3986 §3.2.2): "127.0.0.1:9102",
 * "[::1]:9102". Written bare, `::1:9102` would read as the address ::1:9102 with no port.
 */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
