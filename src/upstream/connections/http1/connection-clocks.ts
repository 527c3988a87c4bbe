/**
 * The clocks of one HTTP/1.1 connection to an upstream (connection.ts): the head clock (from the
 * request sent to the response head), the read clock (the longest silence in the body) and the
 * idle clock (parked in the pool). Deadlines moved per exchange, a timer made about once per
 * length of each (moving-deadline.ts), not re-armed per request. A timer that fires looks again
 * after the poll (setImmediate) before it blames the upstream: see exchange-timers.ts.
 */
import type { Socket } from 'node:net';
import type { Failure } from '../../../core/failure/failure.ts';
import { MovingDeadline } from '../../../core/net/moving-deadline.ts';
import type { ConnectionTimeouts, HeadSoFar } from '../exchange-contract.ts';
import { bodyStalled, headTimedOut } from '../exchange-timers.ts';

/**
 * Where the exchange on a connection is: none in progress, waiting for the response head,
 * reading its body, or its body all in and only its decoder still at work.
 */
export type ExchangeStage = 'none' | 'head' | 'body' | 'tail';

/** What the clocks see of their connection, and do to it. */
export interface ClockedConnection {
  readonly socket: Socket;
  /** Requests the connection has carried: names the exchange in progress. */
  readonly requests: number;
  /** Body pieces received in the exchange in progress: a read clock that passed checks they did not move. */
  readonly bodyPieces: number;
  readonly stage: ExchangeStage;
  requestWaiting(): string | undefined;
  headSoFar(): HeadSoFar;
  abort(failure: Failure): void;
  destroy(): void;
}

export class ConnectionClocks {
  readonly #connection: ClockedConnection;
  /** The exchange in progress's: the pool's, or its route's (Dispatcher.dispatch's `clocks`), set at each dispatch. */
  timeouts: ConnectionTimeouts;
  readonly head = new MovingDeadline(() => this.#headDue());
  /** Set again at every read of a body: the connection holds it as a field of its own too. */
  readonly read = new MovingDeadline(() => this.#readDue());
  readonly idle = new MovingDeadline(() => this.#idleDue());
  /** When the exchange in progress began, and when its request was wholly sent (performance.now()). */
  startedAt = 0;
  sentAt = 0;

  constructor(connection: ClockedConnection, timeouts: ConnectionTimeouts) {
    this.#connection = connection;
    this.timeouts = timeouts;
  }

  /** The request is all out: the head clock runs from here (a client's slow upload is not the upstream's wait). */
  sent(now = performance.now()): void {
    this.sentAt = now;
    this.head.setIn(this.timeouts.head, now);
  }

  /** The connection is gone: every clock's timer let go (a pending one would hold it until it fired). */
  stop(): void {
    this.idle.stop();
    this.head.stop();
    this.read.stop();
  }

  #headDue(): void {
    if (this.#connection.stage !== 'head') return;
    setImmediate(this.#confirmHead, this.#connection.requests);
  }

  readonly #confirmHead = (exchange: number): void => {
    const connection = this.#connection;
    if (connection.stage !== 'head' || connection.requests !== exchange) return;
    connection.abort(
      headTimedOut(this.sentAt, this.timeouts, connection.requestWaiting(), connection.headSoFar()),
    );
  };

  #readDue(): void {
    const connection = this.#connection;
    if (connection.stage === 'none' || connection.stage === 'head' || connection.socket.isPaused()) return;
    setImmediate(this.#confirmRead, connection.requests, connection.bodyPieces);
  }

  readonly #confirmRead = (exchange: number, pieces: number): void => {
    const connection = this.#connection;
    if (connection.stage === 'none' || connection.requests !== exchange || connection.bodyPieces !== pieces)
      return;
    // All of the body is in: what remains is the decoder's work, not the upstream's silence.
    if (connection.stage === 'tail' || connection.socket.isPaused()) return;
    connection.abort(bodyStalled(this.timeouts.read, this.startedAt));
  };

  #idleDue(): void {
    if (this.#connection.stage === 'none') this.#connection.destroy();
  }
}
