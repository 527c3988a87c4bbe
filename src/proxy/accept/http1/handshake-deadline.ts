/**
 * The TCP connections of a TLS listener, held by the server that accepted them
 * (http1-server.ts), each found again under the TLS socket node:tls makes over it: the two
 * share their addresses (node:tls reads the TCP handle's), so a connection's four addresses
 * name it, as the PROXY gate finds a header's client (proxy-gate.ts). No private field of
 * node:tls (`_parent`), no module-level state keyed by socket.
 *
 * What the server needs the TCP socket for: a TLS listener's handshake bound
 * (limits.header_timeout, Node's `handshakeTimeout`) counted from the accept when a stage read
 * the connection first (the PROXY gate, the ACME ClientHello reader). Node starts its own when
 * the TLS socket is made, after them, so a client that waited before its ClientHello (the gate
 * passes on its first byte), or sent it a byte at a time past the reader, had its whole bound
 * again for the handshake: up to twice what a listener without the stage gives it. Node's own
 * bound stays, and is never the shorter. And a failed handshake's plain-text answer is written
 * on the TCP socket (http1-server.ts's failedHandshake).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { firstHeadTime } from '../../../core/net/accepted-at.ts';
import { clientAddressOf } from '../../../core/net/client-address.ts';

/** One TCP connection, and its handshake deadline while one is armed. */
interface Watched {
  readonly tcp: Socket;
  deadline: NodeJS.Timeout | undefined;
}

export class TlsConnections {
  readonly #held = new Map<string, Watched>();
  /** The clients of TLS sockets noted during their handshakes (noteClient). */
  readonly #clients = new WeakMap<TLSSocket, string>();

  /** A TCP connection accepted: kept until it closes (again: nothing). */
  add(tcp: Socket): void {
    this.#watch(tcp);
  }

  /**
   * Arms the rest of `ms` since `tcp` was accepted (accepted-at.ts) for its handshake: destroyed
   * then unless handshakeDone came first. Nothing when nothing of it went (or no bound is set).
   */
  boundHandshake(tcp: Socket, ms: number): void {
    if (ms <= 0) return;
    const left = firstHeadTime(tcp, ms);
    if (left >= ms) return;
    const held = this.#watch(tcp);
    clearTimeout(held.deadline);
    held.deadline = setTimeout(() => tcp.destroy(), left);
  }

  /** The handshake over this TLS socket's TCP connection is done: its deadline goes. */
  handshakeDone(socket: TLSSocket): void {
    const held = this.#held.get(addressesOf(socket));
    if (held === undefined) return;
    clearTimeout(held.deadline);
    held.deadline = undefined;
  }

  /**
   * Notes the client of a TLS socket in its handshake, while the socket still knows it: Node
   * closes a connection whose certificate a listener refuses before it says anything of it, and
   * by then the socket has forgotten its peer.
   */
  noteClient(socket: TLSSocket): void {
    if (this.#clients.has(socket)) return;
    const client = clientAddressOf(this.under(socket) ?? socket);
    if (client !== '') this.#clients.set(socket, client);
  }

  /** Its client, noted or still known ('' once neither). */
  clientOf(socket: TLSSocket): string {
    return this.#clients.get(socket) ?? clientAddressOf(this.under(socket) ?? socket);
  }

  /** The TCP connection under a TLS socket, while it is open. */
  under(socket: TLSSocket): Socket | undefined {
    return this.#held.get(addressesOf(socket))?.tcp;
  }

  #watch(tcp: Socket): Watched {
    const key = addressesOf(tcp);
    const found = this.#held.get(key);
    if (found?.tcp === tcp) return found;
    const held: Watched = { tcp, deadline: undefined };
    this.#held.set(key, held);
    tcp.once('close', () => {
      clearTimeout(held.deadline);
      // A new connection may have the same addresses by now: it is not this one's to forget.
      if (this.#held.get(key) === held) this.#held.delete(key);
    });
    return held;
  }
}

/** Both ends of a connection: unique among the connections open on a host. */
function addressesOf(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}
