import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Connections the drain deadline cut: their sessions log a cut by the gateway, not a client that left. */
const cut = new WeakSet<Socket>();

/** Whether the gateway itself closed this connection at its drain deadline. */
export function wasCutByDrain(socket: Socket | null): boolean {
  return socket !== null && cut.has(socket);
}

/**
 * Every connection of one listener and the responses open on each, so that a drain can end
 * each the right way: an idle keep-alive connection at once, one with a response in flight
 * after that response (which says `Connection: close` if its head has not left yet), and,
 * at the deadline, whatever is still open (tunnels included: Node no longer counts an
 * upgraded socket as the server's, but `server.close()` still waits for it).
 */
export class ConnectionDrain {
  /** Every TCP connection, TLS handshakes included. */
  readonly #tcp = new Set<Socket>();
  /** The connections HTTP runs on (the TLS socket over the TCP one), with their open responses. */
  readonly #responses = new Map<Socket, Set<ServerResponse>>();
  #closing = false;

  constructor(server: Server, tls: boolean) {
    server.on('connection', (socket: Socket) => {
      this.#tcp.add(socket);
      socket.once('close', () => this.#tcp.delete(socket));
    });
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.#responses.set(socket, new Set());
      socket.once('close', () => this.#responses.delete(socket));
    });
  }

  /** Connections still open (idle, busy, tunnelled or still in their TLS handshake). */
  get open(): number {
    return this.#tcp.size;
  }

  /** A response Node just handed over: during a drain it is the last on its connection. */
  begin(res: ServerResponse): void {
    const socket = res.req.socket;
    const open = this.#responses.get(socket);
    if (open === undefined) return;
    open.add(res);
    res.once('close', () => open.delete(res));
    if (this.#closing) this.#closeAfter(socket, res);
  }

  /** Keep-alive ends: every connection closes once the responses open on it are done. */
  closeConnections(): void {
    this.#closing = true;
    // Idle ones are Node's to close (server.closeIdleConnections knows a half-read head from
    // silence); one still reading a head gets its answer with `Connection: close` (begin()).
    // An upgraded one has no response left: it waits for the deadline.
    for (const [socket, open] of this.#responses) for (const res of open) this.#closeAfter(socket, res);
  }

  /** The deadline: every connection still open is destroyed (each session still writes its log line). */
  destroyAll(): number {
    const count = this.#tcp.size;
    for (const socket of this.#responses.keys()) cut.add(socket);
    // Destroying the TCP socket ends the TLS one over it too.
    for (const socket of this.#tcp) socket.destroy();
    return count;
  }

  #closeAfter(socket: Socket, res: ServerResponse): void {
    // Not sent yet: Node writes `Connection: close` and closes the connection after this response.
    if (!res.headersSent) {
      res.shouldKeepAlive = false;
      return;
    }
    // Its head already promised keep-alive: the connection closes when it ends, unless a
    // request pipelined behind it is still to be answered (that one says close itself).
    const closeIfLast = () => {
      const open = this.#responses.get(socket);
      if (open === undefined || [...open].every((other) => other === res)) socket.destroySoon();
    };
    if (res.writableFinished) closeIfLast();
    else res.once('finish', closeIfLast);
  }
}
