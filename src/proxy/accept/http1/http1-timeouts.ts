/**
 * What a client connection of the HTTP/1.1 server (http1-connection.ts) waits for, one wait at a
 * time on its one deadline (connection-deadline.ts): a request's head (header_timeout, from the
 * accept for the first, from its first byte for the next ones), the next bytes of a body
 * (body_idle_timeout), the next request (keep_alive_timeout, counted once the last answer has
 * left), and its lingering close. When a wait passes, the connection is told which one did.
 */
import type { Socket } from 'node:net';
import { ConnectionDeadline } from '../../../core/net/connection-deadline.ts';
import { LINGER_MS } from '../../../core/net/linger.ts';
import { TimerLane } from '../../../core/net/moving-deadline.ts';
import type { ConnectionState, Http1Settings } from './http1-connection-setup.ts';

/** What the waits see of their connection, and tell it. */
export interface TimedConnection {
  readonly state: ConnectionState;
  /** No whole head within header_timeout (the state is still 'head'). */
  headTimedOut(): void;
  /** No body bytes within body_idle_timeout. */
  bodyStalled(): void;
  /** Closes the connection after what was written (a lingering close). */
  close(): void;
}

/**
 * Every client connection's first timer (the first head's wait) is a place in one lane of
 * LINGER_MS: a connection that closes before (a new connection per request, nearly all of them)
 * arms its lingering close's LINGER_MS under it, and takes its place back at its close; no
 * node Timeout is made for it. One that lives longer pays one early fire, then a timer of its
 * own for what is left.
 */
const FIRST_TIMERS = new TimerLane(LINGER_MS);

export class Http1Timeouts extends ConnectionDeadline {
  readonly #connection: TimedConnection;
  readonly #socket: Socket;
  readonly #settings: Http1Settings;
  /** Bound, not an arrow: an arrow field would make each connection allocate a context for it too. */
  readonly #onHead = this.#headDue.bind(this);
  /**
   * The callbacks of the waits a connection may never arm: made the first time they are needed
   * (one that serves a single request and closes makes none of them).
   */
  #onBodyIdle: (() => void) | undefined;
  #onKeepAlive: (() => void) | undefined;
  #onAnswerTaken: (() => void) | undefined;
  /**
   * Counts arm() and refresh(): a wait that passed sees, after the poll, whether it was moved
   * meanwhile (body bytes came, an answer's rest was taken and the keep-alive wait began).
   */
  #moves = 0;
  /**
   * The header_timeout and body_idle_timeout the waits were armed with: a reload may change the
   * settings while a wait runs (it runs out on the value it began with), and its 408 names that
   * value, not the new one.
   */
  headTimeout = 0;
  bodyIdleTimeout = 0;

  constructor(connection: TimedConnection, socket: Socket, settings: Http1Settings) {
    super(FIRST_TIMERS);
    this.#connection = connection;
    this.#socket = socket;
    this.#settings = settings;
  }

  /** A head is awaited: for `ms` (the first one: what is left of header_timeout since the accept). */
  head(ms = this.#settings.headerTimeout): void {
    this.headTimeout = this.#settings.headerTimeout;
    this.arm(ms, this.#onHead);
  }

  /** A body is awaited: body_idle_timeout between its bytes (refresh() at each). */
  body(): void {
    this.bodyIdleTimeout = this.#settings.bodyIdleTimeout;
    this.arm(this.#settings.bodyIdleTimeout, this.#onBodyIdle ?? this.#makeOnBodyIdle());
  }

  /**
   * The next request is awaited: keep_alive_timeout. An answer still leaving for a client that
   * reads it slowly begins that time once it has left (closed before, the client would send its
   * next request into the close); until then it has `limits.send_timeout` to take it.
   */
  nextRequest(): void {
    const onTimeout = this.#onKeepAlive ?? this.#makeOnKeepAlive();
    const { sendTimeout = 0, keepAliveTimeout } = this.#settings;
    if (!this.#socket.writableNeedDrain || sendTimeout <= 0) return this.arm(keepAliveTimeout, onTimeout);
    this.arm(sendTimeout, onTimeout);
    this.#socket.once('drain', this.#onAnswerTaken ?? this.#makeOnAnswerTaken());
  }

  override arm(ms: number, onTimeout: () => void): void {
    this.#moves++;
    super.arm(ms, onTimeout);
  }

  override refresh(): void {
    this.#moves++;
    super.refresh();
  }

  // The callbacks are made apart from body() and nextRequest(): a closure made in either would
  // make each of its calls allocate the context it captures, made or not.

  #makeOnBodyIdle(): () => void {
    // As #headDue: body bytes the client sent in time may wait unread while this fires after a
    // stall of the gateway's own, and the client got a 408 for it. It looks again after the poll:
    // bytes read meanwhile restarted the wait (refresh()), and the client is not blamed.
    this.#onBodyIdle = () => {
      const seen = this.#moves;
      setImmediate(() => {
        if (this.#moves === seen) this.#connection.bodyStalled();
      });
    };
    return this.#onBodyIdle;
  }

  #makeOnKeepAlive(): () => void {
    // As #headDue: the next request, sent in time, may wait unread while this fires after a stall
    // of the gateway's own, and the connection was closed under it. It looks again after the poll.
    this.#onKeepAlive = () => {
      const seen = this.#moves;
      setImmediate(() => {
        if (this.#moves === seen) this.#keepAliveOver();
      });
    };
    return this.#onKeepAlive;
  }

  #makeOnAnswerTaken(): () => void {
    const onTimeout = this.#onKeepAlive as () => void;
    this.#onAnswerTaken = () => {
      if (this.#connection.state === 'idle') this.arm(this.#settings.keepAliveTimeout, onTimeout);
    };
    return this.#onAnswerTaken;
  }

  // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
  // plugin that computes, a long collection, a CPU saturated by load) a head the client sent in
  // time waits unread while this fires, and the client got a 408 (or, its bytes unseen, its
  // connection reset as one that never spoke). So it looks again after the poll (setImmediate).
  #headDue(): void {
    if (this.#connection.state === 'head') setImmediate(headAfterPoll, this.#connection);
  }

  #keepAliveOver(): void {
    if (this.#connection.state !== 'idle') return;
    // Still full: the client took none of its answer's rest for send_timeout. Cut, not given another by close().
    if (this.#socket.writableNeedDrain) this.#socket.destroy();
    else this.#connection.close();
  }
}

/** A head wait that passed, looked at after the poll: still no whole head, the client's 408. */
function headAfterPoll(connection: TimedConnection): void {
  if (connection.state === 'head') connection.headTimedOut();
}
