import { unmapIPv4 } from './ip-address.ts';

/**
 * An address as `host:port`, an IPv6 host in brackets (RFC 3986 §3.2.2): "127.0.0.1:9102",
 * "[::1]:9102". Written bare, `::1:9102` would read as the address ::1:9102 with no port.
 */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A connection's peer as `host:port` for a log line's `who`: "[::1]:50650", never "::1:50650";
 * an IPv4 peer of a dual-stack listener as its IPv4 ("127.0.0.1:50650"), as a request's client is.
 */
export function peerOf(socket: { readonly remoteAddress?: string; readonly remotePort?: number }): string {
  return hostPort(unmapIPv4(socket.remoteAddress ?? '?'), socket.remotePort ?? '?');
}
