/**
 * How the connection under an attempt's response stood when its body ended: reset (an RST), closed
 * (the upstream's FIN), or neither (the body ended by its own framing on a live connection); and
 * whether the attempt's request was written at all (a cut before it: the connect hung); the
 * HTTP version its status line named, its body's bytes as they came off the connection, and
 * whether its content coding ended whole (coding-check.ts).
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
import { type CodingCheck, codingCheckFor } from './coding-check.ts';

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
  /** The bytes of its body that came off the connection, its transfer coding undone (not its content coding). */
  bodyBytes = 0;
  /** Whether its body's content coding ends whole, for one fetch undoes (coding-check.ts). */
  coding: CodingCheck | undefined;
  /** Each request's connection, as `sendHeaders` named it. */
  readonly #socketOf = new WeakMap<object, Socket>();
  /** The HTTP version each request's status line named ("1.1", "2.0"), as its connection's first bytes said it. */
  readonly #versionOf = new WeakMap<object, string>();

  created(): void {
    this.seen = true;
  }

  headWritten(request: object, socket: Socket): void {
    this.written = true;
    this.#socketOf.set(request, socket);
    // An HTTP/2 connection's bytes are frames: no status line to read.
    if ((socket as { alpnProtocol?: unknown }).alpnProtocol !== 'h2')
      watchStatusVersion(socket, (version) => this.#versionOf.set(request, version));
  }

  /** The HTTP version the answering request's status line named, where its connection's bytes were seen. */
  get version(): string | undefined {
    return this.answering === undefined ? undefined : this.#versionOf.get(this.answering);
  }

  headCame(request: object, fields: readonly Buffer[]): void {
    this.answering = request;
    this.bodyBytes = 0;
    this.coding?.drop();
    this.coding = codingCheckFor(fields);
  }

  /** Told before fetch has the bytes: a read that finds the body's end finds them all counted. */
  bodyChunk(request: object, chunk: Buffer): void {
    if (this.answering !== request) return;
    this.bodyBytes += chunk.byteLength;
    this.coding?.write(chunk);
  }

  /** Told as the request ends, before fetch hears of it: the socket is as the end found it (a reset that came later, after a body ended whole, is not what ended it). */
  ended(request: object): void {
    if (this.answering === request) this.end = endOf(this.#socketOf.get(request));
  }
}

/**
 * Tells `seen` the version the first status line on `socket` names, from its first bytes (a
 * request's answer starts at the first bytes after its head was written: undici sends one
 * request at a time on a connection). undici reads the socket itself ('readable'): a 'data'
 * listener beside it is told each chunk undici reads, before its parser has it, and changes
 * nothing of its flow. fetch does not say the version, and undici takes `HTTP/2.0` as HTTP/1.
 */
function watchStatusVersion(socket: Socket, seen: (version: string) => void): void {
  let first = '';
  const onData = (chunk: Buffer) => {
    first += chunk.toString('latin1', 0, STATUS_VERSION_BYTES - first.length);
    if (first.length < STATUS_VERSION_BYTES) return;
    socket.off('data', onData);
    const version = /^HTTP\/(\d\.\d)$/.exec(first)?.[1];
    if (version !== undefined) seen(version);
  };
  socket.on('data', onData);
}

/** The bytes of a status line's version: `HTTP/1.1`. */
const STATUS_VERSION_BYTES = 8;

function endOf(socket: Socket | undefined): ConnectionEnd | undefined {
  if (socket === undefined) return undefined;
  if ((socket.errored as NodeJS.ErrnoException | null)?.code === 'ECONNRESET') return 'reset';
  return socket.readableEnded ? 'closed' : undefined;
}
