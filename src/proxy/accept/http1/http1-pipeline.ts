/**
 * The requests a client pipelines behind the one being answered (http1-connection.ts): what it
 * sends next is kept unparsed (read-ahead.ts) until that response is finished, and the next
 * request starts on the next turn of the event loop and once the socket took what was written,
 * so a client pipelining thousands of requests gets them answered in order, never side by side,
 * one request's work per connection per turn, and a client that does not read its answers stops
 * its pipeline there. Made at a connection's first pipelined bytes (most never pipeline).
 */
import type { Socket } from 'node:net';
import type { ConnectionState } from './http1-connection-setup.ts';
import { ReadAhead } from './read-ahead.ts';

/** What the pipeline sees of its connection, and asks of it. */
export interface PipelinedConnection {
  readonly socket: Socket;
  readonly state: ConnectionState;
  /** The parser holds a whole request: what comes after it waits. */
  readonly requestParsed: boolean;
  /** An idle connection begins its next request's head. */
  nextHead(): void;
  /** Parses a read (or a part of one kept) of the request in progress. */
  parseRead(chunk: Buffer): void;
  pauseReading(): void;
  resumeReading(): void;
}

export class Pipeline {
  readonly #connection: PipelinedConnection;
  /** The bytes kept, in order; undefined when none are. */
  #ahead: ReadAhead | undefined;
  readonly #next = (): void => this.#parseNext();

  constructor(connection: PipelinedConnection) {
    this.#connection = connection;
  }

  /** Bytes are kept, waiting for their turn. */
  get waiting(): boolean {
    return this.#ahead !== undefined;
  }

  /** What is kept fills the read-ahead: the socket is not read until it is taken. */
  get full(): boolean {
    return this.#ahead?.full === true;
  }

  /** Kept behind what came before it; the socket is not read once the read-ahead is full. */
  keep(chunk: Buffer): void {
    this.#ahead ??= new ReadAhead();
    if (this.#ahead.add(chunk)) this.#connection.pauseReading();
  }

  /** The kept bytes, as one buffer, let go (what an upgrade's tunnel gets after the head). */
  take(): Buffer {
    const rest = this.#ahead === undefined ? Buffer.alloc(0) : this.#ahead.joined();
    this.#ahead = undefined;
    return rest;
  }

  /** The response is finished: the kept bytes are parsed on the next turn, once the socket took what was written. */
  schedule(): void {
    const socket = this.#connection.socket;
    const next = this.#next;
    if (socket.writableNeedDrain) socket.once('drain', () => setImmediate(next));
    else setImmediate(next);
  }

  #parseNext(): void {
    const connection = this.#connection;
    if (connection.state !== 'idle') return;
    const kept = this.#ahead?.chunks ?? [];
    this.#ahead = undefined;
    connection.nextHead();
    for (let i = 0; i < kept.length; i++) {
      // (The state, read again: parsing may have refused a request and closed.)
      const state = connection.state as ConnectionState;
      if (state === 'closing' || state === 'closed') return;
      // Completed a request with bytes to spare, or one answered at once (OPTIONS *, a
      // redirect, a 404) whose spare bytes are read ahead already: the rest comes after
      // those, in its turn. Parsed now, it would be read before them, out of order.
      if (connection.requestParsed || this.#ahead !== undefined || state === 'idle') {
        // An answered request that ended where a read did left nothing read ahead, so nothing
        // was scheduled for the rest.
        const scheduled = this.#ahead !== undefined;
        for (let j = i; j < kept.length; j++) this.keep(kept[j]);
        if (connection.state === 'idle' && !scheduled) this.schedule();
        return;
      }
      connection.parseRead(kept[i]);
    }
    if (!this.full) connection.resumeReading();
  }
}
