import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isEndHeld } from '../../core/net/turn-end.ts';
import { hasRequestBody } from './request-checks.ts';

/** The request Node last handed over on a socket, until its response closes. */
interface InFlight {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Whether the request handler has run (it is held back a turn for requests with a body). */
  started: boolean;
  /** A framing error answered it before the handler ran: the handler must not run. */
  cancelled: boolean;
}

/** What to do with a parser error on a socket, given the request in flight there. */
export type ParseErrorOwner =
  /** No request in flight: answer on the socket. */
  | { readonly kind: 'socket' }
  /** The error is in the body of a request whose handler never ran: answer on the socket for it. */
  | { readonly kind: 'unstarted'; readonly req: IncomingMessage }
  /** The body of a request being forwarded broke: its own handler answers (once, and logs once). */
  | { readonly kind: 'body'; readonly req: IncomingMessage }
  /** A request pipelined behind one still being answered: answer after that response. */
  | { readonly kind: 'after'; readonly res: ServerResponse };

/**
 * Node's parser calls the request handler as soon as a head is complete, and only then
 * parses the body bytes that came in the same read: a bad chunk size, or a Transfer-Encoding
 * it refuses, turns into a 'clientError' after the handler already started forwarding (and
 * Node would then let two answers go out on one socket). Requests with a body are therefore
 * handed to the handler one turn later (after the parser is done with what it was given),
 * and a parser error is given to whoever owns the socket's exchange at that moment.
 */
export class InFlightRequests {
  readonly #bySocket = new WeakMap<Socket, InFlight>();

  /** Runs `handle` for a request Node parsed: at once without a body, after the current read with one. */
  begin(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
    const socket = req.socket;
    const previous = this.#bySocket.get(socket);
    const entry: InFlight = { req, res, started: false, cancelled: false };
    this.#bySocket.set(socket, entry);
    res.once('close', () => {
      if (this.#bySocket.get(socket) === entry) this.#bySocket.delete(socket);
    });
    const run = () => {
      // Pipelined behind a request whose answer closes the connection: these bytes may be that
      // request's body, not a request; Node drops the response when the connection closes.
      if (entry.cancelled || doubtful.has(socket)) return;
      entry.started = true;
      handle();
    };
    // A request pipelined behind one still held back waits its turn: it must not reach an
    // upstream before the one in front of it has been judged.
    if (hasRequestBody(req) || (previous !== undefined && !previous.started)) setImmediate(run);
    else run();
  }

  /**
   * Runs `next` once the request in flight on `socket` (if any) has been answered: an upgrade
   * pipelined behind another request must not take the socket while that response is being
   * written (and must not reach an upstream before the one in front of it was judged).
   */
  afterCurrent(socket: Socket, next: () => void): void {
    const entry = this.#bySocket.get(socket);
    if (entry === undefined || entry.res.closed) return next();
    entry.res.once('close', next);
  }

  /** Who answers a parser error on `socket`; claims an unstarted request so its handler never runs. */
  ownerOf(socket: Socket): ParseErrorOwner {
    const entry = this.#bySocket.get(socket);
    if (!entry) return { kind: 'socket' };
    if (!entry.started) {
      entry.cancelled = true;
      return { kind: 'unstarted', req: entry.req };
    }
    // A response whose end is only held for the end of the turn is answered all the same.
    const answered = entry.res.writableEnded || isEndHeld(entry.res);
    if (!entry.req.complete && !answered) return { kind: 'body', req: entry.req };
    return { kind: 'after', res: entry.res };
  }
}

/**
 * Fails a request body from outside: the exchange reading it sees `req.errored` and answers
 * 400 through the response. The socket is detached first, because destroying
 * an unfinished IncomingMessage destroys its socket, and the answer still has to go out on it.
 */
export function failRequestBody(req: IncomingMessage, err: Error): void {
  (req as { socket: Socket | null }).socket = null;
  req.destroy(err);
}

/** Connections whose framing is in doubt: answered once more at most, then closed. */
const doubtful = new WeakSet<Socket>();

/**
 * The answer now being written closes the connection because the request's framing is in
 * doubt: no request Node parsed after it on this connection is run.
 */
export function markInDoubt(socket: Socket): void {
  doubtful.add(socket);
}

/** The connection's framing is in doubt (markInDoubt): nothing more is run on it. */
export function inDoubt(socket: Socket): boolean {
  return doubtful.has(socket);
}
