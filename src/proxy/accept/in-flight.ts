import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isEndHeld } from '../../core/net/turn-end.ts';

/** A request Node handed over on a socket, until its response closes. */
interface InFlight {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Whether the request handler has run (held back a turn for requests with a body, and behind the one before it). */
  started: boolean;
  /** A framing error answered it before the handler ran: the handler must not run. */
  cancelled: boolean;
  readonly handle: () => void;
}

/**
 * Requests read ahead on one connection before the gateway stops reading it: the one being
 * answered and this many waiting behind it. Node's parser reads the whole of a socket read
 * (64 KiB) at once, so the requests of the read that crossed the bound are kept too; the
 * bound on what one connection can make the gateway hold is that, not the client's whole
 * pipeline.
 */
export const PIPELINE_READ_AHEAD = 8;

/** What to do with a parser error on a socket, given the requests in flight there. */
export type ParseErrorOwner =
  /** No request in flight: answer on the socket. */
  | { readonly kind: 'socket' }
  /**
   * The error is in the body of a request whose handler never ran: answer on the socket for
   * it, once `after` (the response before it on the connection, if any) has closed.
   */
  | { readonly kind: 'unstarted'; readonly req: IncomingMessage; readonly after?: ServerResponse }
  /** The body of a request being forwarded broke: its own handler answers (once, and logs once). */
  | { readonly kind: 'body'; readonly req: IncomingMessage }
  /** A request pipelined behind one still being answered: answer after that response. */
  | { readonly kind: 'after'; readonly res: ServerResponse };

/**
 * The requests of each connection, run one at a time in order (as nginx, HAProxy and Envoy
 * do): Node's parser hands over every request of a pipeline as soon as it reads it, and run
 * at once they would go upstream side by side, one client taking the pool from all others.
 * The next request runs when the response before it has closed; past PIPELINE_READ_AHEAD
 * waiting, the socket is not read until the queue shortens.
 *
 * Node's parser also calls the request handler as soon as a head is complete, and only then
 * parses the body bytes that came in the same read: a bad chunk size, or a Transfer-Encoding
 * it refuses, turns into a 'clientError' after the handler already started forwarding (and
 * Node would then let two answers go out on one socket). Requests with a body are therefore
 * handed to the handler one turn later (after the parser is done with what it was given),
 * and a parser error is given to whoever owns the socket's exchange at that moment.
 */
export class InFlightRequests {
  /** Per connection, the requests not yet closed, oldest first (the first one is running or about to). */
  readonly #bySocket = new WeakMap<Socket, InFlight[]>();

  /** Runs `handle` for a request Node parsed, after the ones before it on its connection. */
  begin(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
    const socket = req.socket;
    let queue = this.#bySocket.get(socket);
    if (queue === undefined) {
      queue = [];
      this.#bySocket.set(socket, queue);
      // Node resumes the socket when it wants a body read or its own output drained: not
      // while this connection has more requests waiting than the bound allows.
      socket.on('resume', () => {
        if ((this.#bySocket.get(socket)?.length ?? 0) > PIPELINE_READ_AHEAD) socket.pause();
      });
    }
    const entry: InFlight = { req, res, started: false, cancelled: false, handle };
    queue.push(entry);
    res.once('close', () => this.#closed(socket, entry));
    if (queue.length === 1) this.#start(entry);
    else if (queue.length > PIPELINE_READ_AHEAD) socket.pause();
  }

  #start(entry: InFlight, nextTurn = false): void {
    const socket = entry.req.socket;
    const run = () => {
      // Pipelined behind a request whose answer closes the connection: these bytes may be that
      // request's body, not a request; Node drops the response when the connection closes.
      if (entry.cancelled || entry.started || doubtful.has(socket)) return;
      entry.started = true;
      entry.handle();
    };
    if (nextTurn || requestHasBody(entry.req)) setImmediate(run);
    else run();
  }

  #closed(socket: Socket, entry: InFlight): void {
    const queue = this.#bySocket.get(socket);
    if (queue === undefined) return;
    const at = queue.indexOf(entry);
    if (at === -1) return;
    queue.splice(at, 1);
    if (queue.length === 0) return;
    if (at === 0) {
      const next = queue[0];
      // Node closes a queued response unanswered when the connection goes: nothing to run then.
      if (socket.destroyed) return;
      // On the next turn: a connection's pipeline starts one request per turn of the event
      // loop, so it cannot hold the loop from every other connection's.
      this.#start(next, true);
    }
    if (queue.length === PIPELINE_READ_AHEAD) socket.resume();
  }

  /**
   * Runs `next` once the requests in flight on `socket` (if any) have been answered: an upgrade
   * pipelined behind other requests must not take the socket while a response is being
   * written (and must not reach an upstream before the ones in front of it were judged).
   */
  afterCurrent(socket: Socket, next: () => void): void {
    const queue = this.#bySocket.get(socket);
    const last = queue?.[queue.length - 1];
    if (last === undefined || last.res.closed) return next();
    last.res.once('close', next);
  }

  /** Who answers a parser error on `socket`; claims an unstarted request so its handler never runs. */
  ownerOf(socket: Socket): ParseErrorOwner {
    const queue = this.#bySocket.get(socket);
    const entry = queue?.[queue.length - 1];
    if (queue === undefined || entry === undefined) return { kind: 'socket' };
    if (!entry.started) {
      entry.cancelled = true;
      // Nothing may be written on the socket before the responses in front of it are out.
      const before = queue.length > 1 ? queue[queue.length - 2].res : undefined;
      return { kind: 'unstarted', req: entry.req, after: before?.closed === false ? before : undefined };
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

/** Whether a request node:http parsed carries a body (announced length above zero, or chunked). */
export function requestHasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}
