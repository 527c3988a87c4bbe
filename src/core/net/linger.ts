import type { Socket } from 'node:net';

/**
 * How long a connection closed under a client still sending its body stays open to read (and
 * drop) what keeps coming. The bound on what a client can make the gateway read after its
 * answer: this long, at the rate the client manages. The same bound holds a closed HTTP/2
 * connection's wait for its peer's FIN (lingerAfterFin).
 */
export const LINGER_MS = 2_000;

/**
 * Destroys `socket` LINGER_MS after the gateway's FIN has gone out, unless it closed by then.
 * node:http2 closes a session gracefully by ending its socket and waiting for the peer's FIN,
 * with no deadline: a peer that never sends one (a client that ignores GOAWAY, node:http2's own
 * client holding an answer it never read, an upstream that never closes) held the connection,
 * its descriptor and any drain for good. One listener a connection, one timer at its close.
 */
export function lingerAfterFin(socket: Socket): void {
  socket.once('finish', () => {
    if (!socket.destroyed) setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}
