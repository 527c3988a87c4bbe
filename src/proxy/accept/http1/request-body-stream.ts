/**
 * A request's body as the HTTP/1.1 connection (http1-connection.ts) hands it over: a stream read
 * from the socket, with backpressure on it.
 */
import { Readable } from 'node:stream';

/** What the stream asks of its connection. */
export interface BodySource {
  /** The body's reader wants more: the socket is read again. */
  bodyWanted(): void;
}

/** A request body stream: read from the connection, with backpressure on the socket. */
export class BodyStream extends Readable {
  readonly #connection: BodySource;
  trailers: readonly string[] | undefined;

  constructor(connection: BodySource) {
    super();
    this.#connection = connection;
    // The connection destroys the body with an error to tell its reader the client left or broke
    // it; a reader listens for that itself. Often there is none: a request still waiting for a
    // pooled connection, an exchange the client's leaving ended (its pump let go first). An
    // 'error' with no listener is an uncaught exception, and that took the whole gateway down.
    this.on('error', ignoreUnread);
  }

  override _read(): void {
    this.#connection.bodyWanted();
  }

  /** The connection breaks the body off: its reader hears why (`code`; `status`: the answer it calls for). */
  fail(message: string, code: string, status?: number): void {
    this.destroy(Object.assign(new Error(message), status === undefined ? { code } : { code, status }));
  }
}

/** A body error nobody is left to hear (BodyStream): the session already knows the client left. */
function ignoreUnread(): void {}
