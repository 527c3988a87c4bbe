/**
 * The request going out on an HTTP/1.1 connection to an upstream (connection.ts): its head and a
 * body in hand leave at the end of the turn, with every other request of the turn (one wake-up of
 * the upstream for all of them: turn-end.ts) and with as much of a streaming body as has arrived
 * by then; the client's body streams with backpressure both ways, framed in chunks when its
 * length is unknown, until it ends, breaks, or the exchange stops it.
 *
 * A request whose body is in hand (or none) is kept back until the turn's end and handed to the
 * socket as one write, not corked: corked, its writes went at the uncork through the Writable's
 * buffer, `clearBuffer` and `_writev` to the native `Writev`, which allocates a store for the
 * head's string and copies it there (the answers' side does the same: turn-writes.ts).
 */
import type { Socket } from 'node:net';
import type { Failure } from '../../../core/failure/failure.ts';
import { serializeRequestHead } from '../../../core/http1/request-head.ts';
import { atTurnEnd, corkUntilTurnEnd } from '../../../core/net/turn-end.ts';
import { type BodyPump, pumpRequestBody } from '../body-pump.ts';
import type { ExchangeHandler, ExchangeRequest, StreamedBody } from '../exchange-contract.ts';
import { ChunkedOut, PlainOut } from './body-out.ts';
import type { ConnectionClocks, ExchangeStage } from './connection-clocks.ts';

/** What the request's way out sees of its connection, and does to it. */
export interface RequestingConnection {
  /** The handler of the exchange in progress (null: none). */
  readonly current: ExchangeHandler | null;
  readonly stage: ExchangeStage;
  abort(failure: Failure): void;
}

/**
 * The most a pending request joins into one Buffer (its head and body): under it `allocUnsafe`
 * slices node's shared pool (`Buffer.poolSize >>> 1`). A larger one goes as two writes, corked.
 */
const JOINED_MAX = 4095;

export class RequestOut {
  readonly #connection: RequestingConnection;
  readonly #socket: Socket;
  readonly #clocks: ConnectionClocks;
  /** The target's host[:port]: the Host of a request that came without one (HTTP/1.0 clients). */
  readonly #authority: string;
  /** The client's body going out, while it streams. */
  #pump: BodyPump | undefined;
  /** The request's head, kept for the turn's end (#sendPending): set, not a byte of it is the socket's yet. */
  #pendingHead: string | undefined = undefined;
  /** Its body in hand, kept with it (undefined: none, or empty). */
  #pendingBody: Buffer | undefined = undefined;

  constructor(connection: RequestingConnection, socket: Socket, clocks: ConnectionClocks, authority: string) {
    this.#connection = connection;
    this.#socket = socket;
    this.#clocks = clocks;
    this.#authority = authority;
  }

  /**
   * The request written in this turn is still pending (a request whose body streams:
   * the socket is still corked for it): not a byte of it has reached the socket.
   */
  get unsent(): boolean {
    return this.#pendingHead !== undefined || this.#socket.writableCorked > 0;
  }

  /** The client's body is still going out. */
  get sending(): boolean {
    return this.#pump?.sending === true;
  }

  /** Writes the request, for `handler`'s exchange, begun at `startedAt` (performance.now()). */
  write(request: ExchangeRequest, handler: ExchangeHandler, startedAt: number): void {
    const socket = this.#socket;
    const connection = this.#connection;
    const { body } = request;
    const head = serializeRequestHead(request, this.#authority);
    // timeouts.response runs from the request sent: for a body streaming from the client, once
    // it is all out (the clock of the exchange before is cleared meanwhile).
    if (body.kind === 'stream') this.#clocks.head.clear();
    else this.#clocks.sent(startedAt);
    if (body.kind === 'buffer') {
      handler.onBodyChunk(body.bytes);
      if (connection.current !== handler) return;
    }
    // A request still pending from before (its response came early, whole, in this turn): it leaves first.
    if (this.#pendingHead !== undefined) RequestOut.#sendPending(this);
    if (body.kind === 'stream') {
      corkUntilTurnEnd(socket);
      socket.write(head, 'latin1');
      return this.#stream(body, handler);
    }
    this.#pendingHead = head;
    this.#pendingBody = body.kind === 'buffer' && body.bytes.length > 0 ? body.bytes : undefined;
    atTurnEnd(RequestOut.#sendPending, this);
    handler.onRequestSent();
  }

  /** The turn's end: the pending request goes to the socket, in one write (dropped if the socket is gone). */
  static #sendPending(out: RequestOut): void {
    const head = out.#pendingHead;
    if (head === undefined) return; // sent already (write())
    const body = out.#pendingBody;
    out.#pendingHead = undefined;
    out.#pendingBody = undefined;
    const socket = out.#socket;
    if (socket.destroyed) return;
    if (body === undefined) socket.write(head, 'latin1');
    else if (head.length + body.length <= JOINED_MAX) {
      const one = Buffer.allocUnsafe(head.length + body.length);
      one.set(body, one.write(head, 0, 'latin1'));
      socket.write(one);
    } else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
    }
  }

  /** What turn-end.ts calls on a pending write that threw: the connection closes, and its exchange fails for it. */
  destroy(): void {
    this.#socket.destroy();
  }

  /**
   * The client's body, for `handler`'s exchange. (A method of its own: its closures, in write(),
   * would make every request allocate the context they share, a body or none.)
   */
  #stream(body: StreamedBody, handler: ExchangeHandler): void {
    const socket = this.#socket;
    const connection = this.#connection;
    keepOpenOnWriteError(socket, true);
    this.#pump = pumpRequestBody(
      body,
      body.lengthAnnounced ? new PlainOut(socket) : new ChunkedOut(socket),
      handler,
      () => connection.current,
      (failure) => connection.abort(failure),
      () => {
        keepOpenOnWriteError(socket, false);
        // A response that came first (an early 413) needs no clock for its head.
        if (connection.current === handler && connection.stage === 'head') this.#clocks.sent();
      },
      {
        timeout: this.#clocks.timeouts.send,
        waiting: () => keptBy(socket),
        answered: () => connection.stage !== 'head',
      },
    );
  }

  /** The client's body is streaming, and a write the upstream refuses leaves the socket open (keepOpenOnWriteError). */
  get keepsOpen(): boolean {
    return this.#pump !== undefined && !this.#socket.destroyed;
  }

  /**
   * The upstream refused a write of the client's body (keepOpenOnWriteError): the body stops, and
   * the socket reads on to its own end. Node marked its read side failed with the write (it fails
   * both sides of a socket at once), and a failed side emits no 'end': the end a reset leaves
   * once what came before it is read, or the upstream's FIN, would go unheard, and the exchange
   * would wait for its clock: a reset before the head answered 504 http_response_timeout, one
   * under the body logged as a stall. The read side has not failed; only the write did.
   */
  refused(): void {
    // The pump stops, but the socket still does not close itself at a write's error: the writes
    // queued before the refusal fail after it (a chunked body's size line, bytes and CRLF go in
    // one writev, and the writes still buffered behind it), and autoDestroy back on, the next of
    // those failures closed it with the answer unread: a chunked upload's early 413 was a 502
    // "EPIPE before the response head" (python's http.server's 501 to a POST, 5 tries in 12). The
    // exchange's end, its clocks or the read's own end close it (socket-endings.ts).
    this.#pump?.stop();
    this.#pump = undefined;
    (this.#socket as unknown as { _readableState: { errored: Error | null } })._readableState.errored = null;
  }

  /** Detaches the client's body from the connection (a no-op when none is streaming). */
  stop(): void {
    if (this.#pump === undefined) return;
    this.#pump.stop();
    this.#pump = undefined;
    keepOpenOnWriteError(this.#socket, false);
  }
}

/** Bytes the socket still holds for the upstream (its kernel's buffers full: it reads no more), for the send clock's failure. */
function keptBy(socket: Socket): { bytes: number; why: string } {
  return { bytes: socket.destroyed ? 0 : socket.writableLength, why: 'its connection took no more' };
}

/**
 * While a client's body streams to the upstream, a write the upstream refuses does not close
 * the socket. An app that refuses an upload answers at once (a 413, a 401) and closes with the
 * body unread, so its kernel resets the connection, and the next write here fails (EPIPE,
 * ECONNRESET). Its answer came before the reset and is still in the kernel's buffer, which
 * gives queued bytes before the reset's error: closed at the write's error, as Node closes a
 * socket unless neither side of it closes itself (`autoDestroy`), the answer was lost and the
 * upload a 502 that said no head came (RFC 9112 §9.5: a client watches for an answer while it
 * sends a body). Kept open, the socket reads on to the answer, or to the read's own end, which
 * closes it (socket-endings.ts). Only then: an upstream socket otherwise closes itself as Node
 * closes any.
 */
function keepOpenOnWriteError(socket: Socket, hold: boolean): void {
  const states = socket as unknown as {
    _readableState: { autoDestroy: boolean };
    _writableState: { autoDestroy: boolean };
  };
  states._readableState.autoDestroy = !hold;
  states._writableState.autoDestroy = !hold;
}
