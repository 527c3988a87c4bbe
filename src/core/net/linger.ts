import type { Socket } from 'node:net';
import type { ConnectionDeadline } from './connection-deadline.ts';

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

/**
 * An HTTP/1.1 connection's lingering close (RFC 9112 §9.6), after what was written: our FIN, then
 * what the client still sends is read and dropped (by the caller) until its FIN or LINGER_MS on
 * `deadline`, then `destroy`. A last answer still leaving for a slow reader (destroyed now, its
 * rest would be lost behind a FIN) has `sendTimeout` (0: none) to leave, the linger counting from our FIN.
 */
export function lingeringClose(
  socket: Socket,
  deadline: ConnectionDeadline,
  sendTimeout: number,
  destroy: () => void,
): void {
  const leaving = socket.writableLength > 0;
  socket.end();
  if (!leaving || sendTimeout <= 0) return deadline.arm(LINGER_MS, destroy);
  deadline.arm(sendTimeout, destroy);
  socket.once('finish', () => {
    if (socket.readableEnded) destroy();
    else if (!socket.destroyed) deadline.arm(LINGER_MS, destroy);
  });
}
