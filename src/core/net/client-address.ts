/**
 * Whom a downstream connection is from. The peer's own address, unless a trusted TCP load
 * balancer said otherwise in a PROXY protocol header (proxy/accept/proxy-gate.ts): then that
 * header's client stands for the peer everywhere the gateway names the client (X-Forwarded-For,
 * Forwarded's `for=`, trusted-forwarder checks, rate-limit keys, the access log, `{client_ip}`).
 * Kept on the socket itself: it is a fact of the connection, read by each request on it.
 */
import type { Socket } from 'node:net';

const PROXIED_CLIENT = Symbol('candor.proxiedClient');

interface Marked {
  [PROXIED_CLIENT]?: string;
}

/** The client of a connection: the PROXY header's, else the peer's address ('' once it is gone). */
export function clientAddressOf(socket: Socket | undefined): string {
  if (socket === undefined) return '';
  return (socket as Marked)[PROXIED_CLIENT] ?? socket.remoteAddress ?? '';
}

/** Records the client a PROXY header named for this connection. */
export function markProxiedClient(socket: Socket, address: string): void {
  (socket as Marked)[PROXIED_CLIENT] = address;
}
