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

export function listenOptions(port: number, host: string, name?: string): ListenOptions {
  if (bindsSocketPerWorker(port)) return { port, host, reusePort: true };
  // A listener written on port 0 asks for the port the gateway announced for it, if it has one.
  const kept = port === 0 && name !== undefined && cluster.isWorker ? keptPorts.get(name) : undefined;
  return { port: kept ?? port, host };
}

/**
 * The ports the gateway's workers got for its listeners written on port 0, by listener name (the
 * primary's, from its first worker that served: cluster-control.ts). With the cluster's round
 * robin the primary's socket for such a port closes with the last worker that listens on it: a
 * replacement asking for port 0 again got another one from the system, while the start line,
 * the fleet's record and every client named the first, and /ready said ready. So a worker asks
 * for the port announced; while another worker still holds it through the primary's socket for
 * port 0, that ask is EADDRINUSE, and the worker asks for port 0, which joins that socket
 * (listener.ts).
 */
const keptPorts = new Map<string, number>();

/** At a worker's start: the ports announced for its listeners written on port 0, by name. */
export function keepAnnouncedPorts(ports: Readonly<Record<string, number>> | undefined): void {
  keptPorts.clear();
  for (const [name, port] of Object.entries(ports ?? {})) if (port > 0) keptPorts.set(name, port);
}

/** Whether this process binds its own socket for `port` (a cluster worker, where the kernel balances). */
function bindsSocketPerWorker(port: number, platform: string = process.platform): boolean {
  return cluster.isWorker && port !== 0 && BALANCING_PLATFORMS.has(platform);
}
