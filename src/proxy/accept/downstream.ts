/**
 * What a request session needs of the client side, whatever the protocol: the request's
 * head, its body as a stream, a sink for the response, and a way to abort. HTTP/1.1 is the
 * first implementation (http1-connection.ts, http1-response.ts); an HTTP/2 stream would be
 * another, with the session unchanged.
 */
import type { Readable } from 'node:stream';

export interface DownstreamHead {
  readonly method: string;
  /** As sent: origin form, absolute form, or `*`. */
  readonly target: string;
  /** 0 or 1 for HTTP/1.x. */
  readonly versionMinor: number;
  /** Flat [name, value, …] as received (names' case kept). */
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  /** Body framing as the client announced it: none, a length, or chunked (an unknown length). */
  readonly bodyLength: number | 'chunked' | undefined;
  /** The client asked to switch protocols (`Connection: upgrade` with `Upgrade`). */
  readonly upgrade: boolean;
  /** The client waits for `100 Continue` before its body. */
  readonly expectContinue: boolean;
}

/** Where the response goes: one head, body chunks with backpressure, an end. */
export interface ResponseSink {
  /** The head went out (or is queued): a gateway error can no longer replace it. */
  readonly headSent: boolean;
  /** The whole response went to the socket. */
  readonly finished: boolean;
  /** Tells a client that sent `Expect: 100-continue` to send its body (once, and only before the head). */
  sendContinue(): void;
  /** A 1xx other than 100 and 101, passed on from the upstream. */
  sendInterim(status: number, reason: string, headers: readonly string[]): void;
  /**
   * The final head. Framing is the sink's: `Content-Length` when the headers hold one, else
   * chunked (HTTP/1.1) or close-delimited (HTTP/1.0); none for HEAD, 204 and 304. `close` asks
   * for the connection to close after this response.
   */
  sendHead(status: number, reason: string, headers: readonly string[], close?: boolean): void;
  /** False: wait for `onDrain` before the next write. */
  write(chunk: Buffer): boolean;
  onDrain(callback: () => void): void;
  /** Ends the response, with trailers when the framing can carry them. */
  end(trailers?: readonly string[]): void;
  /** Cuts the exchange: the client sees the connection close (a response cut short, never a complete one). */
  abort(): void;
  /** Called once when the exchange is over: finished whole, or not. */
  onClose(callback: (finished: boolean) => void): void;
}

/** What the server hands a session for each request. */
export interface DownstreamExchange {
  readonly head: DownstreamHead;
  /** The request body: ends at once for a request without one; errors with `code` on broken framing. */
  readonly body: Readable;
  readonly response: ResponseSink;
}
