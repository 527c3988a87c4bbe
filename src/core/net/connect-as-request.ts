import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

// node:http through process.getBuiltinModule, not an import: see metrics-listener.ts (an ES
// module import of node:http loads Node's bundled undici into the cluster primary).
const http = process.getBuiltinModule('node:http');

/**
 * Hands a CONNECT to a node:http listener of the gateway's own (the admin API, the metrics
 * listener) as any other request. node:http gives a CONNECT to 'connect' and, with no listener,
 * closes its connection with no answer and no log line: the client reads a reset where a status
 * belongs. The handler's answer goes out on a response made for the socket, which carries nothing
 * after it (the parser gave the socket up at the head, so `head` and what follows stay unread).
 */
export function answerConnectAsRequest(
  server: Server,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): void {
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    // node:http took its own 'error' listener off the socket it handed out: a client that resets
    // it as the answer is written (`write ECONNRESET`) would be an uncaught error in the primary.
    socket.on('error', () => socket.destroy());
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    handler(req, res);
  });
}
