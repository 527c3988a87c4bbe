/**
 * How the socket of an HTTP/1.1 connection to an upstream (connection.ts) ends, and what that
 * means for the exchange on it: the upstream's FIN (an idle connection closed at once; under an
 * exchange, a close-delimited body ended, or a response cut), the socket's error (kept to name
 * how it went away), its close (an exchange still on it fails for how far its response got), and
 * bytes nobody asked for (the upstream is confused: the connection closes for them).
 */
import type { Socket } from 'node:net';
import type { Failure } from '../../../core/failure/failure.ts';
import type { AnswerParser } from '../../../core/http1/answer-parser.ts';
import type { Framing } from '../../../core/http1/parsed-answer.ts';
import type { ConnectionClocks, ExchangeStage } from './connection-clocks.ts';
import { connectionEnded } from './connection-ended.ts';
import type { ConnectionOptions } from './connection-setup.ts';

/** What the endings see of their connection, and do to it. */
export interface EndingConnection {
  readonly stage: ExchangeStage;
  /** The framing of the response head, once it is in (a body cut short is named by it). */
  readonly answerFraming: Framing | undefined;
  /** Not a byte of the current request has reached the socket yet (request-out.ts's `unsent`). */
  readonly requestUnsent: boolean;
  abort(failure: Failure): void;
  destroy(): void;
  /**
   * The upstream refused a write of the client's body while the socket was kept open for it
   * (request-out.ts): true when the connection reads on for an answer sent before the refusal.
   */
  writeRefused(): boolean;
  /** The connection leaves its pool, for good. */
  leavePool(): void;
  /** The upstream closed it with no exchange on it: destroyed, its pool told how long it was idle. */
  closedIdle(): void;
}

export class SocketEndings {
  readonly #connection: EndingConnection;
  readonly #socket: Socket;
  readonly #parser: AnswerParser;
  readonly #clocks: ConnectionClocks;
  /** The socket closed, or left for another protocol: no request goes out on it again. */
  closed = false;
  #error: NodeJS.ErrnoException | undefined;
  /** The socket's error came with none of the request sent (see requestUnsent). */
  #unsentAtError = false;
  /** Where stray bytes are told (ConnectionOptions.strayBytes), and whether they were (once is the truth). */
  readonly #options: ConnectionOptions;
  #strayTold = false;

  constructor(
    connection: EndingConnection,
    socket: Socket,
    parser: AnswerParser,
    clocks: ConnectionClocks,
    options: ConnectionOptions,
  ) {
    this.#connection = connection;
    this.#options = options;
    this.#socket = socket;
    this.#parser = parser;
    this.#clocks = clocks;
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** A new exchange: the error of one before is not its own. */
  exchangeStarts(): void {
    this.#error = undefined;
    this.#unsentAtError = false;
  }

  /** The socket leaves this connection (an upgrade's tunnel): its endings are no longer ours. */
  leave(): void {
    this.closed = true;
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#socket.off('close', this.#onClose);
  }

  /** Bytes past a complete response, or while no request was out: the connection closes for them, and says so (once). */
  stray(bytes: number): void {
    if (this.#strayTold) return;
    this.#strayTold = true;
    this.#options.strayBytes?.(this.#options.authority, bytes);
  }

  readonly #onEnd = (): void => {
    const stage = this.#connection.stage;
    // The upstream closed an idle connection: closed here too, at once. Left to Node, the
    // socket stays undestroyed until its own FIN has gone out (a turn of the loop or more), and
    // a request taking it from the pool meanwhile is written after the upstream's FIN: it fails
    // unsent, and a POST is not retried (the failure says the request may have been sent).
    if (stage === 'none') return this.#connection.closedIdle();
    // The response is whole, only the decoder is still at work: this is not a cut.
    if (stage === 'tail') return;
    const state = this.#parser.finish();
    if (state === 'complete') return; // a close-delimited body, ended cleanly (onComplete ran)
    // Failed now, the socket is destroyed with the request still in it: Node would end its side
    // on the next tick, and that end would flush the request after the upstream's close.
    this.#fail(state, state === 'idle' && this.#requestUnsent());
  };

  /**
   * None of the current request has left for the upstream: it is still pending (or corked) for the
   * end of the turn in which dispatch() wrote it, so not a byte of it reached the kernel. (A
   * count of bytes written would not do: a write the kernel took in part counts as not written
   * until all of it is taken.)
   */
  #requestUnsent(): boolean {
    return this.#connection.requestUnsent;
  }

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    this.#error = err;
    if (this.#connection.stage !== 'none' && !this.#parser.started)
      this.#unsentAtError = this.#requestUnsent();
    // A write of a streaming body refused (the upstream answered early and reset the
    // connection): its answer may be in the kernel's buffer still, read before the reset's
    // error ends the socket, or its FIN the exchange (request-out.ts, keepOpenOnWriteError).
    if (err.syscall === 'write' && this.#connection.writeRefused()) return;
    // node:tls reports an error after its handshake (a record that is no TLS record) and leaves
    // the socket open: the connection is over all the same, and its 'close' names how it ended.
    this.#socket.destroy();
  };

  readonly #onClose = (): void => {
    const first = !this.closed;
    this.closed = true;
    this.#clocks.stop();
    const stage = this.#connection.stage;
    if (stage !== 'none' && stage !== 'tail') {
      // A reset ends even a close-delimited body uncleanly: it may have been cut anywhere.
      if (stage === 'body') this.#fail('body');
      else if (this.#parser.inHead) this.#fail('head');
      else this.#fail('idle', this.#unsentAtError);
    }
    if (first) this.#connection.leavePool();
  };

  /**
   * The connection ended under an exchange: what that means depends on how far the response got,
   * and, before any of it, whether any of the request had left (`unsent`: none had).
   */
  #fail(state: 'idle' | 'head' | 'body', unsent = false): void {
    const elapsed = performance.now() - this.#clocks.startedAt;
    const framing = this.#connection.answerFraming;
    this.#connection.abort(connectionEnded(state, this.#error, elapsed, framing, unsent));
  }
}
