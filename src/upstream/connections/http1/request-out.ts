/**
 * The request going out on an HTTP/1.1 connection to an upstream (connection.ts): its head and a
 * body in hand leave at the end of the turn, with every other request of the turn (one wake-up of
 * the upstream for all of them: turn-end.ts) and with as much of a streaming body as has arrived
 * by then; the client's body streams with backpressure both ways, framed in chunks when its
 * length is unknown, until it ends, breaks, or the exchange stops it.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Failure } from '../../../core/failure/failure.ts';
import { serializeRequestHead } from '../../../core/http1/request-head.ts';
import { corkUntilTurnEnd } from '../../../core/net/turn-end.ts';
import { type BodyPump, pumpRequestBody } from '../body-pump.ts';
import type { ExchangeHandler, ExchangeRequest } from '../exchange-contract.ts';
import { ChunkedOut, PlainOut } from './body-out.ts';
import type { ConnectionClocks, ExchangeStage } from './connection-clocks.ts';

/** What the request's way out sees of its connection, and does to it. */
export interface RequestingConnection {
  /** The handler of the exchange in progress (null: none). */
  readonly current: ExchangeHandler | null;
  readonly stage: ExchangeStage;
  abort(failure: Failure): void;
}

export class RequestOut {
  readonly #connection: RequestingConnection;
  readonly #socket: Socket;
  readonly #clocks: ConnectionClocks;
  /** The target's host[:port]: the Host of a request that came without one (HTTP/1.0 clients). */
  readonly #authority: string;
  /** The client's body going out, while it streams. */
  #pump: BodyPump | undefined;

  constructor(connection: RequestingConnection, socket: Socket, clocks: ConnectionClocks, authority: string) {
    this.#connection = connection;
    this.#socket = socket;
    this.#clocks = clocks;
    this.#authority = authority;
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
    corkUntilTurnEnd(socket);
    socket.write(head, 'latin1');
    if (body.kind === 'none') return handler.onRequestSent();
    if (body.kind === 'buffer') {
      if (body.bytes.length > 0) socket.write(body.bytes);
      return handler.onRequestSent();
    }
    this.#stream(body.source, body.lengthAnnounced, handler);
  }

  /**
   * The client's body, for `handler`'s exchange. (A method of its own: its closures, in write(),
   * would make every request allocate the context they share, a body or none.)
   */
  #stream(source: Readable, lengthAnnounced: boolean, handler: ExchangeHandler): void {
    const socket = this.#socket;
    const connection = this.#connection;
    this.#pump = pumpRequestBody(
      source,
      lengthAnnounced ? new PlainOut(socket) : new ChunkedOut(socket),
      handler,
      () => connection.current,
      (failure) => connection.abort(failure),
      () => {
        // A response that came first (an early 413) needs no clock for its head.
        if (connection.current === handler && connection.stage === 'head') this.#clocks.sent();
      },
    );
  }

  /** Detaches the client's body from the connection (a no-op when none is streaming). */
  stop(): void {
    this.#pump?.stop();
    this.#pump = undefined;
  }
}
