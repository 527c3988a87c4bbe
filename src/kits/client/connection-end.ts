/**
 * How the connection under an attempt's response stood when its body ended: reset (an RST), closed
 * (the upstream's FIN), or neither (the body ended by its own framing on a live connection); and
 * whether the attempt's request was written at all (a cut before it: the connect hung).
 *
 * fetch does not say, and where it matters it hides it: on a response without keep-alive
 * (`Connection: close`, HTTP/1.0) undici takes a reset as the end of the message, so a body
 * delimited by the close (RFC 9112 §6.3 item 8: no Content-Length, not chunked) that a reset cut
 * reads as whole and complete, and one with a Content-Length says "closed" where it was reset.
 * Node's fetch tells each request's life on undici's diagnostics channels: an attempt's requests
 * are those created in its async context (core/net/fetch-watch.ts), the one that
 * answered is the last whose head came, and its socket is the one `sendHeaders` named. When that
 * request ends (whole or not), its socket says how the connection stood. A `fetch` of the
 * caller's that is no undici publishes nothing: the end stays unknown. The attempt's fetch runs
 * under `watchingFetch` (send-attempt.ts).
 */
import type { Socket } from 'node:net';
import type { FetchWatcher } from '../../core/net/fetch-watch.ts';

export type ConnectionEnd = 'reset' | 'closed';

/** One attempt's requests (a redirect's hops among them), and how the answering one's connection ended. */
export class AttemptConnection implements FetchWatcher {
  /** undici told of a request of this attempt: the channels speak, what they did not say did not happen. */
  seen = false;
  /** A request head of this attempt was written to a connection (`sendHeaders`): it may have reached the origin. */
  written = false;
  /** The request whose head came last: the one whose response the attempt gives. */
  answering: object | undefined;
  /** How its connection stood when its body ended (undefined: not ended yet, or neither). */
  end: ConnectionEnd | undefined;
  /** Each request's connection, as `sendHeaders` named it. */
  readonly #socketOf = new WeakMap<object, Socket>();

  created(): void {
    this.seen = true;
  }

  headWritten(request: object, socket: Socket): void {
    this.written = true;
    this.#socketOf.set(request, socket);
  }

  headCame(request: object): void {
    this.answering = request;
  }

  /** Told as the request ends, before fetch hears of it: the socket is as the end found it (a reset that came later, after a body ended whole, is not what ended it). */
  ended(request: object): void {
    if (this.answering === request) this.end = endOf(this.#socketOf.get(request));
  }
}

function endOf(socket: Socket | undefined): ConnectionEnd | undefined {
  if (socket === undefined) return undefined;
  if ((socket.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET') return 'reset';
  return socket.readableEnded ? 'closed' : undefined;
}
