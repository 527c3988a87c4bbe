import type { Socket } from 'node:net';

/**
 * How long a connection closed under a client still sending its body stays open to read (and
 * drop) what keeps coming. The bound on what a client can make the gateway read after its
 * answer: this long, at the rate the client manages.
 */
const LINGER_MS = 2_000;

/**
 * Makes the socket's next close a staged one (RFC 9112 §9.6, nginx's "lingering close"): the
 * answer goes out, then our FIN, and the connection keeps reading what the client still sends
 * until the client's FIN, or LINGER_MS. Closed at once instead, a socket with unread bytes
 * makes the kernel send a reset, which can reach the client before it has read the answer: an
 * upload to a refused upstream then ends in EPIPE or ECONNRESET instead of its 502.
 *
 * Node's HTTP server closes a `Connection: close` response's socket with destroySoon() once
 * the response is sent; this replaces that call for this socket alone. What the client still
 * sends goes to Node's parser, which drops the rest of a request body nobody reads.
 */
export function lingerOnClose(socket: Socket): void {
  let lingering = false;
  socket.destroySoon = () => {
    // Node's own close of the response and ours both come here: one linger is enough.
    if (socket.destroyed || lingering) return socket;
    lingering = true;
    socket.end();
    const cut = () => socket.destroy();
    const timer = setTimeout(cut, LINGER_MS);
    timer.unref();
    socket.once('end', cut);
    socket.once('close', () => clearTimeout(timer));
    return socket;
  };
}
