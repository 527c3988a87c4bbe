/**
 * One upstream response's transfer codings (gzip, deflate) being undone between its
 * connection's parser and the exchange's handler (core/http1/transfer-decoder.ts): made only for
 * a response that came with any. The decoder's input is bounded: while it is full the
 * connection's socket is not read, and a drain reads it again unless the downstream paused.
 */
import type { Socket } from 'node:net';
import type { Failure } from '../../../core/failure/failure.ts';
import type { DecodableCoding } from '../../../core/http1/answer-rules.ts';
import { TransferDecoder, type TransferDecoderHandler } from '../../../core/http1/transfer-decoder.ts';
import type { ExchangeController, ExchangeHandler } from '../exchange-contract.ts';

/** What the decoding asks of its connection (connection.ts). */
export interface DecodingConnection extends ExchangeController {
  readonly socket: Socket;
  /** The decoded body is all out: the exchange ends, with the response's trailers. */
  endExchange(trailers: string[] | undefined): void;
}

export class AnswerDecoding implements TransferDecoderHandler {
  readonly #decoder: TransferDecoder;
  readonly #connection: DecodingConnection;
  readonly #handler: ExchangeHandler;
  /** The decoder holds its limit of coded bytes: the socket stays paused until it drains. */
  full = false;
  /** The coded body is all in; the decoder is still emptying (the upstream may close meanwhile). */
  tail = false;
  #trailers: string[] | undefined;
  /** The downstream asked to pause. */
  #paused: boolean;
  /** Destroyed with its exchange's end: nothing of it reaches the next exchange. */
  #over = false;

  constructor(
    codings: readonly DecodableCoding[],
    connection: DecodingConnection,
    handler: ExchangeHandler,
    paused: boolean,
  ) {
    this.#connection = connection;
    this.#handler = handler;
    this.#paused = paused;
    this.#decoder = new TransferDecoder(codings, this);
  }

  /** A piece of the coded body; the socket is paused while the decoder is full. */
  write(chunk: Buffer): void {
    if (this.#decoder.write(chunk)) return;
    this.full = true;
    this.#connection.socket.pause();
  }

  /** The coded body is all in: the exchange ends once the decoder has emptied. */
  end(trailers: string[] | undefined): void {
    this.tail = true;
    this.#trailers = trailers;
    this.#decoder.end();
  }

  pause(): void {
    this.#paused = true;
    this.#decoder.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#decoder.resume();
  }

  destroy(): void {
    this.#over = true;
    this.#decoder.destroy();
  }

  onDecoded(chunk: Buffer): void {
    if (!this.#over) this.#handler.onResponseData(this.#connection, chunk);
  }

  onDrain(): void {
    this.full = false;
    if (!this.#over && !this.#paused && !this.tail) this.#connection.socket.resume();
  }

  onDecodedEnd(): void {
    if (!this.#over) this.#connection.endExchange(this.#trailers);
  }

  onDecodeError(failure: Failure): void {
    if (!this.#over) this.#connection.abort(failure);
  }
}
