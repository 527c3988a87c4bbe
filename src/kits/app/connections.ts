/**
 * A server's connections and the responses in flight on them, for the shutdown: stop accepting,
 * close the idle keep-alive connections at once, close each busy one right after its response
 * (a response whose head has not left says `Connection: close`, so the gateway does not put
 * the connection back in its pool), and at the deadline cut whatever is still open.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

function closeAfter(res: ServerResponse): void {
  // A head already sent said keep-alive: the close follows the response instead (below).
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

export class ServerConnections {
  /** Every TCP connection, for the count and the cut (a TLS one still in its handshake included). */
  private readonly tcp = new Set<Socket>();
  /** The sockets requests come on: the TCP ones, or over TLS the TLS ones above them. */
  private readonly sockets = new Set<Socket>();
  private readonly answers = new Set<ServerResponse>();
  /** Connections that have carried a request (Node's closeIdleConnections closes only these when idle). */
  private readonly used = new WeakSet<Socket>();
  private closing = false;
  private readonly server: Server;

  /** Tracks from now on: attach before the server listens, or earlier connections are not counted. */
  constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.tcp.add(socket);
      socket.once('close', () => this.tcp.delete(socket));
    });
    // Over TLS a request's socket is the TLS one, which 'secureConnection' gives ('connection'
    // gives the TCP socket under it): the same objects on both sides of `used`.
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // First of the request listeners, so that a request arriving while closing is marked before the app writes.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      this.used.add(req.socket);
      this.answers.add(res);
      if (this.closing) closeAfter(res);
      res.once('close', () => {
        this.answers.delete(res);
        // Its connection is idle now (or closing): close it before the gateway sends another request on it.
        if (this.closing) setImmediate(() => this.server.closeIdleConnections());
      });
    });
  }

  /** Responses not finished yet. */
  get inFlight(): number {
    return this.answers.size;
  }

  /** Connections open. */
  get open(): number {
    return this.tcp.size;
  }

  /** Stops accepting and closes connections as their responses end; resolves once none is open. */
  close(): Promise<void> {
    this.closing = true;
    for (const res of this.answers) closeAfter(res);
    // The callback comes when the last connection has closed (with an error if it never listened).
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // A connection that never carried a request is not idle to Node: it would stay until the
    // deadline. A gateway opens such ones for its pool and parks them unused; closing them now is
    // as safe as closing the idle ones, once the delay has taken the app out of rotation.
    // Not one that has read a byte: a request may be arriving on it, or it was upgraded (a
    // WebSocket, which keeps its connection until the deadline or the app's own close).
    for (const socket of this.sockets) if (!this.used.has(socket) && socket.bytesRead === 0) socket.destroy();
    return closed;
  }

  /** Cuts every connection still open (the deadline); how many there were. */
  cut(): number {
    const count = this.tcp.size;
    this.server.closeAllConnections();
    // closeAllConnections knows HTTP connections only: an upgraded one (a WebSocket) or one
    // still in its TLS handshake is cut here.
    for (const socket of this.tcp) socket.destroy();
    return count;
  }
}
