/**
 * The listening sockets a listener accepts on. Since libuv 1.45 (its PR #3696) a Node server
 * accepts one connection per turn of the event loop, and under load a worker's turn takes
 * milliseconds (it reads and proxies a hundred requests a turn): a burst of 200 new
 * connections (a load generator starting, a client pool reconnecting) was accepted one a turn,
 * the last after about a second. Where the worker binds its own SO_REUSEPORT socket
 * (listen-options.ts), it binds `ACCEPTORS` of them on the address instead, each accepting
 * its connection a turn and handing it to the listener's server as node:net documents it
 * (`server.emit('connection', socket)`, for net and tls servers alike): the server's own
 * listeners (TLS, the PROXY gate, HTTP/1.1, HTTP/2) see the sockets they always saw. The
 * listener's server then binds nothing itself. A cluster worker without a socket of its own
 * (port 0, macOS: the primary accepts and hands each connection over) listens through one
 * such acceptor, for the bound below. Outside a cluster worker the server listens alone, as
 * before, and nothing here runs per connection.
 *
 * The bounds stay one per listener, whichever socket accepted a connection: `max_connections`
 * counts them all together (past it a connection is closed as it is accepted and reported as
 * node:net's 'drop' on the server), closing stops every socket's accepts and waits for every
 * connection, and the port is the one they share.
 */
import cluster from 'node:cluster';
import { createServer, type ListenOptions, type Server, type ServerOpts, type Socket } from 'node:net';

/**
 * Listening sockets per listener in a worker that binds its own: a burst of 200 connections is
 * accepted in 25 turns instead of 200. The kernel spreads connections over every worker's
 * sockets by a hash of their addresses, as it does over one socket a worker.
 */
export const ACCEPTORS = 8;

export interface Accepting {
  /** The bound port (differs from the asked one for port 0). */
  port(): number;
  /** Connections open now, whichever socket accepted them (HTTP/2 and tunnels included). */
  connections(): Promise<number>;
  /** `max_connections`: a reload's new bound applies to the next accept on every socket. */
  setMaxConnections(max: number): void;
  /** Stops accepting on every socket; resolves when the last connection any of them accepted has closed. */
  close(): Promise<void>;
}

/**
 * Listens for `server` on `options` (listen-options.ts): through `ACCEPTORS` sockets where it
 * asks for SO_REUSEPORT, through one in any other cluster worker, else on the server itself.
 * `socketOptions`: those the server was made with (allowHalfOpen, noDelay), so that each
 * acceptor's sockets are made as its own would be.
 */
export async function listenFor(
  server: Server,
  options: ListenOptions,
  socketOptions: ServerOpts,
  maxConnections: number,
): Promise<Accepting> {
  if (options.reusePort === true) return acceptors(server, options, socketOptions, maxConnections, ACCEPTORS);
  // The primary hands this worker each connection. node:net's own bound would hand one past it
  // back, and the primary then holds it, accepted and unanswered, until some worker has room:
  // one acceptor takes them all and closes those past the bound, as a socket of our own does.
  if (cluster.isWorker) return acceptors(server, options, socketOptions, maxConnections, 1);
  server.maxConnections = maxConnections;
  await listenOn(server, options);
  return alone(server, options.port ?? 0);
}

/** The server on its one socket: node:net counts and bounds its connections. */
function alone(server: Server, asked: number): Accepting {
  return {
    port: () => portOf(server) ?? asked,
    connections: () => new Promise((resolve) => server.getConnections((_, count) => resolve(count ?? 0))),
    setMaxConnections(max) {
      server.maxConnections = max;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function acceptors(
  server: Server,
  options: ListenOptions,
  socketOptions: ServerOpts,
  maxConnections: number,
  count: number,
): Promise<Accepting> {
  let max = maxConnections;
  // Counted here, not by node:net: each acceptor would count (and bound) only its own.
  let open = 0;
  // One function for every connection: no closure per accept.
  const release = () => {
    open--;
  };
  const hand = (socket: Socket) => {
    if (open >= max) {
      // As node:net does past its maxConnections: closed unread, and the same event for the report.
      const { localAddress, localPort, remoteAddress, remotePort, remoteFamily } = socket;
      socket.destroy();
      server.emit('drop', { localAddress, localPort, remoteAddress, remotePort, remoteFamily });
      return;
    }
    open++;
    socket.on('close', release);
    server.emit('connection', socket);
  };
  const sockets: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const acceptor = createServer(socketOptions, hand);
      await listenOn(acceptor, options);
      sockets.push(acceptor);
      // An accept's error (EMFILE) is the listener's, as it was when the server accepted itself.
      acceptor.on('error', (err) => server.emit('error', err));
    }
  } catch (err) {
    await Promise.all(sockets.map(closeAll));
    throw err;
  }
  return {
    port: () => portOf(sockets[0] as Server) ?? options.port ?? 0,
    connections: () => Promise.resolve(open),
    setMaxConnections(next) {
      max = next;
    },
    // Each acceptor's close waits for the connections it accepted (node:net counts them per server).
    close: () => Promise.all(sockets.map(closeAll)).then(() => undefined),
  };
}

function closeAll(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function listenOn(server: Server, options: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function portOf(server: Server): number | undefined {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : undefined;
}
