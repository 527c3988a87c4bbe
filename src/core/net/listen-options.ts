import cluster from 'node:cluster';
import type { ListenOptions } from 'node:net';

/**
 * Where each worker's connections come from. Node's cluster default has the primary accept
 * every connection and pass it to a worker (round robin): about 60 µs of the primary's CPU per
 * connection, and a primary busy or stopped stops the accepts. With `reusePort` (SO_REUSEPORT)
 * every worker binds a listening socket of its own on the address, accepts on it, and the
 * kernel spreads new connections over the workers' sockets by a hash of each connection's
 * addresses and ports: even on average, not turn by turn; the primary does no per-connection
 * work. A worker's socket closes with it, and connections still queued on it then are reset.
 *
 * The kernel balances SO_REUSEPORT sockets on Linux (3.9+) and FreeBSD (12+, SO_REUSEPORT_LB,
 * which Node's flag sets there); elsewhere the cluster's round robin stays. So it does for
 * port 0 (tests): each worker would bind a port of its own, and the primary binds one for all.
 */
const BALANCING_PLATFORMS: ReadonlySet<string> = new Set(['linux', 'freebsd']);

export function listenOptions(port: number, host: string): ListenOptions {
  if (bindsSocketPerWorker(port)) return { port, host, reusePort: true };
  return { port, host };
}

/** Whether this process binds its own socket for `port` (a cluster worker, where the kernel balances). */
function bindsSocketPerWorker(port: number, platform: string = process.platform): boolean {
  return cluster.isWorker && port !== 0 && BALANCING_PLATFORMS.has(platform);
}
