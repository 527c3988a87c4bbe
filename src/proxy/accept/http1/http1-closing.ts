/**
 * How the gateway ends a client connection of the HTTP/1.1 server (http1-connection.ts) other
 * than by the lingering close every close is (core/net/linger.ts): a drain (each connection
 * closes after its response, an idle one at once, and at the drain's deadline what is left is
 * cut), and an answer cut short (a reset where a FIN would say that a body the close delimits is
 * whole). Functions of the connection, not an object of their own: a connection that serves one
 * request and closes makes nothing for them.
 */

import type { Socket } from 'node:net';
import type { DrainCut, TunnelCut } from '../../../core/net/downstream.ts';
import type { EndedFor } from './http1-connection-setup.ts';

/** What a drain sees of a connection, and asks of it. */
export interface DrainedConnection {
  readonly socket: Socket;
  /** Nothing of a request on it: idle between requests, or not one byte of a head yet. */
  readonly quiet: boolean;
  /** The answer in progress, if any (Http1Answer). */
  readonly answer: ClosedAnswer | undefined;
  /** A tunnel's last words (a WebSocket's Close frame), said before the deadline's cut. */
  readonly farewell: ((why: TunnelCut) => void) | undefined;
  /** A request its client pipelined behind the one in progress was read, and waits its turn. */
  readonly pipelined: boolean;
  /** The connection closes, for `why`, after the current response (saying `Connection: close` if it can). */
  endAfterAnswer(why: EndedFor): void;
  /** As endAfterAnswer, but after the next response if the current one's head has left saying keep-alive. */
  endAfterToldAnswer(why: EndedFor): void;
  /** Closes the connection after what was written (a lingering close). */
  close(): void;
}

/** What a drain's deadline does to the answer in progress. */
export interface ClosedAnswer {
  /** The connection closes after it (it says `Connection: close` if its head has not gone out). */
  closeAfter(): void;
  /** The gateway's drain cuts it, for `why`. */
  cutByTheDrain(why: DrainCut): void;
  abort(): void;
}

/**
 * A drain: an idle connection closes at once, a busy one after its response. One idle only
 * until its turn comes for a pipelined request already read is busy: that request is
 * answered (saying close), not dropped with the connection after the client sent it; so is one
 * read behind an answer still leaving for a slow client, whose head said keep-alive (the client
 * sent it in good faith, and the drain cannot take that back).
 */
export function closeWhenIdle(connection: DrainedConnection, why: EndedFor): void {
  if (connection.pipelined) connection.endAfterToldAnswer(why);
  else connection.endAfterAnswer(why);
  if (!connection.quiet) return;
  // One more look first: a request already in the socket's buffer when the drain began (sent
  // before the client could know) is read by the next poll of the event loop, which runs
  // before the second turn's immediates; it is then answered, saying close, not dropped.
  setImmediate(() =>
    setImmediate(() => {
      if (connection.quiet) connection.close();
    }),
  );
}

/** A drain's cut: the connection is destroyed, and its exchange knows the gateway did it, and why. */
export function cutByTheDrain(connection: DrainedConnection, why: DrainCut): void {
  // A tunnel on it says goodbye first, while the socket still writes.
  connection.farewell?.('drain');
  const answer = connection.answer;
  if (answer !== undefined) {
    answer.cutByTheDrain(why);
    // As any cut answer: a body the close delimits ends in a reset, not a FIN.
    answer.abort();
  }
  if (!connection.socket.destroyed) connection.socket.destroy();
}

/**
 * An answer was cut: the connection closes at once. `reset`: its body was delimited by the
 * close, so only a reset (RST) tells the client it is not whole; a FIN would say it is.
 */
export function cutAnswer(socket: Socket, reset: boolean, encrypted: boolean): void {
  // What was written (the head, at least) leaves before the cut: corked, it would be dropped.
  while (socket.writableCorked > 0) socket.uncork();
  // Only a plain TCP socket can send a reset; over TLS the close without close_notify tells it.
  if (reset && !encrypted && !socket.destroyed) socket.resetAndDestroy();
  else socket.destroy();
}
