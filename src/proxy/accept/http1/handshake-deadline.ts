/**
 * A TLS listener's handshake bound (limits.header_timeout, Node's `handshakeTimeout`) counted
 * from the accept when a stage read the connection first (the PROXY gate, the ACME ClientHello
 * reader: http1-server.ts). Node starts its own when the TLS socket is made, after them, so a
 * client that waited before its ClientHello (the gate passes on its first byte), or sent it a
 * byte at a time past the reader, had its whole bound again for the handshake: up to twice
 * what a listener without the stage gives it. Node's own bound stays, and is never the shorter.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { firstHeadTime } from '../../../core/net/accepted-at.ts';

const deadlines = new WeakMap<Socket, NodeJS.Timeout>();

/**
 * Arms the rest of `ms` since `tcp` was accepted (accepted-at.ts) for its handshake: destroyed
 * then unless handshakeDone came first. Nothing when nothing of it went (or no bound is set).
 */
export function boundHandshake(tcp: Socket, ms: number): void {
  if (ms <= 0) return;
  const left = firstHeadTime(tcp, ms);
  if (left >= ms) return;
  const timer = setTimeout(() => tcp.destroy(), left);
  deadlines.set(tcp, timer);
  tcp.once('close', () => clearTimeout(timer));
}

/** The handshake over a TCP socket is done: its deadline goes (node:tls keeps the TCP socket as `_parent`). */
export function handshakeDone(socket: TLSSocket): void {
  const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
  if (tcp === undefined) return;
  const timer = deadlines.get(tcp);
  if (timer === undefined) return;
  clearTimeout(timer);
  deadlines.delete(tcp);
}
