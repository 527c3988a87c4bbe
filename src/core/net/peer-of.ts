import { hostPort } from './host-port.ts';
import { unmapIPv4 } from './ip-address.ts';

// Apart from host-port.ts, which the cluster primary loads: ip-address.ts imports node:net, whose
// ES module facade loads BlockList and SocketAddress (test/server/cli/lean-processes.test.ts).

/**
 * A connection's peer as `host:port` for a log line's `who`: "[::1]:50650", never "::1:50650";
 * an IPv4 peer of a dual-stack listener as its IPv4 ("127.0.0.1:50650"), as a request's client is.
 */
export function peerOf(socket: { readonly remoteAddress?: string; readonly remotePort?: number }): string {
  return hostPort(unmapIPv4(socket.remoteAddress ?? '?'), socket.remotePort ?? '?');
}
