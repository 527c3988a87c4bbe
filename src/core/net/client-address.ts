/**
 * Whom a downstream connection is from. The peer's own address, unless a trusted TCP load
 * balancer said otherwise in a PROXY protocol header (proxy/accept/proxy-gate.ts): then that
 * header's client stands for the peer everywhere the gateway names the client (X-Forwarded-For,
 * Forwarded's `for=`, trusted-forwarder checks, rate-limit keys, the access log, `{client_ip}`).
 * Kept on the socket itself: it is a fact of the connection, read by each request on it.
 */
import type { Socket } from 'node:net';

const PROXIED_CLIENT = Symbol('candor.proxiedClient');
const PROXY_HEADER_BYTES = Symbol('candor.proxyHeaderBytes');

interface Marked {
  [PROXIED_CLIENT]?: string;
  [PROXY_HEADER_BYTES]?: number;
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

/** Records the length of the PROXY header the connection opened with: read from it, but the balancer's, no request's. */
export function markProxyHeaderBytes(socket: Socket, bytes: number): void {
  (socket as Marked)[PROXY_HEADER_BYTES] = bytes;
}

/**
 * What the connection read of its client's own bytes: all it read (`bytesRead`) but its PROXY
 * header. For a refusal counted off the socket (a log line's `bytes_in`), not off a parser.
 */
export function clientBytesRead(socket: Socket): number {
  return socket.bytesRead - ((socket as Marked)[PROXY_HEADER_BYTES] ?? 0);
}
