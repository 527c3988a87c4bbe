/**
 * How a client connection of the HTTP/1.1 server (http1-connection.ts) is ended by the gateway:
 * a lingering close (RFC 9112 §9.6: our FIN, what the client still sends read and dropped, the
 * socket destroyed at its FIN or at LINGER_MS, whatever the client does), after a refusal's
 * answer, a response that said close, or a timeout; a drain (each connection closes after its
 * response, an idle one at once, and at the drain's deadline what is left is cut); and an answer
 * cut short (a reset where a FIN would say that a body the close delimits is whole).
 */
import type { Socket } from 'node:net';
import { lingeringClose } from '../../../core/net/linger.ts';
import type { ConnectionState } from './http1-connection-setup.ts';
import type { Http1Timeouts } from './http1-timeouts.ts';

/** What the closing sees of its connection, and asks of it. */
export interface ClosingConnection {
  readonly state: ConnectionState;
  /** Nothing of a request on it: idle between requests, or not one byte of a head yet. */
  readonly quiet: boolean;
  /** The answer in progress, if any (Http1Response). */
  readonly response: ClosedResponse | undefined;
  /** Our FIN is going out: the connection enters 'closing' (and reads on, to drop what comes). */
  enterClosing(): void;
}

/** What the closing does to the answer in progress. */
export interface ClosedResponse {
  /** The connection closes after it (it says `Connection: close` if its head has not gone out). */
  closeAfter(): void;
  /** The gateway's drain deadline cuts it. */
  cutAtDrainDeadline(): void;
  abort(): void;
}

export class Http1Closing {
  readonly #connection: ClosingConnection;
  readonly #socket: Socket;
  readonly #timeouts: Http1Timeouts;
  readonly #sendTimeout: number;
  readonly #encrypted: boolean;
  /** close() ran: our FIN is out, the deadline runs. */
  #closing = false;
  /**
   * The connection closes after the current response (a drain, broken framing, a body left
   * unread). A field, not a getter: the connection reads it at every request's head and end.
   */
  afterResponse = false;
  /** Destroys the socket (the connection's own function: no closure made here for it). */
  readonly #destroy: () => void;

  constructor(
    connection: ClosingConnection,
    socket: Socket,
    timeouts: Http1Timeouts,
    sendTimeout: number,
    encrypted: boolean,
    destroy: () => void,
  ) {
    this.#connection = connection;
    this.#socket = socket;
    this.#timeouts = timeouts;
    this.#sendTimeout = sendTimeout;
    this.#encrypted = encrypted;
    this.#destroy = destroy;
  }

  /** Our FIN is out: what the client still sends is read and dropped until the socket goes. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Answers a refused request with these bytes and closes the connection (lingering, with a deadline). */
  refuse(answer: string | Buffer): void {
    if (this.#closing) return;
    this.#socket.write(answer);
    this.close();
  }

  /**
   * Closes the connection after what was written: our FIN, then what the client still sends
   * is read and dropped until its FIN or LINGER_MS, then the socket is destroyed.
   */
  close(): void {
    if (this.#closing || this.#connection.state === 'closed') return;
    this.#closing = true;
    this.#connection.enterClosing();
    lingeringClose(this.#socket, this.#timeouts, this.#sendTimeout, this.#destroy);
  }

  /**
   * The connection closes after the current response, which says `Connection: close` if its
   * head has not gone out yet: a drain, or a request whose framing or body broke.
   */
  closeAfterResponse(): void {
    this.afterResponse = true;
    this.#connection.response?.closeAfter();
  }

  /**
   * A drain: an idle connection closes at once, a busy one after its response. One idle only
   * until its turn comes for a pipelined request already read is busy: that request is
   * answered (saying close), not dropped with the connection after the client sent it.
   */
  closeWhenIdle(): void {
    this.closeAfterResponse();
    if (!this.#connection.quiet) return;
    // One more look first: a request already in the socket's buffer when the drain began (sent
    // before the client could know) is read by the next poll of the event loop, which runs
    // before the second turn's immediates; it is then answered, saying close, not dropped.
    setImmediate(() =>
      setImmediate(() => {
        if (this.#connection.quiet) this.close();
      }),
    );
  }

  /** A drain's deadline: the connection is destroyed, and its exchange knows the gateway did it. */
  cut(): void {
    const response = this.#connection.response;
    if (response !== undefined) {
      response.cutAtDrainDeadline();
      // As any cut answer: a body the close delimits ends in a reset, not a FIN.
      response.abort();
    }
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  /**
   * An answer was cut: the connection closes at once. `reset`: its body was delimited by the
   * close, so only a reset (RST) tells the client it is not whole; a FIN would say it is.
   */
  answerCut(reset: boolean): void {
    const socket = this.#socket;
    // What was written (the head, at least) leaves before the cut: corked, it would be dropped.
    while (socket.writableCorked > 0) socket.uncork();
    // Only a plain TCP socket can send a reset; over TLS the close without close_notify tells it.
    if (reset && !this.#encrypted && !socket.destroyed) socket.resetAndDestroy();
    else socket.destroy();
  }
}
