/**
 * The config's downstream `limits`: what a client may send and hold (heads, bodies, time, the
 * HTTP/2 server's bounds, per client), and the spool of responses clients read slowly.
 */

export interface DownstreamLimits {
  /** Largest request header section (request line included) before 431. */
  readonly headerSize: number;
  /** Longest request target before 414. */
  readonly uriLength: number;
  /** Time allowed for the client to send the whole header section before 408. */
  readonly headerTimeout: number;
  /** Longest silence while receiving a request body before 408. */
  readonly bodyIdleTimeout: number;
  /** A request body (read whole, or streamed from when an upstream connection takes it) must be in by this, plus a second per bodyMinRate bytes received, or 408. */
  readonly bodyReadTimeout: number;
  /** Bytes per second a request body must average after bodyReadTimeout; 0: no rate, only the idle timeout. */
  readonly bodyMinRate: number;
  /** Longest time a client may take no byte of a response the gateway is waiting to send, before it is cut. */
  readonly sendTimeout: number;
  /** Idle keep-alive connections from clients are closed after this. */
  readonly keepAliveTimeout: number;
  /**
   * Responses a client reads slower than their upstream sends, past `routes[].limits.buffer`,
   * go on to a file so the upstream connection goes back to its pool (proxy/forward/answer-spool.ts).
   */
  readonly spool: SpoolLimits;
  /**
   * Response bytes held in memory for clients that have not taken them, every connection of this
   * process together (a cluster's workers split it): proxy/forward/reader-memory.ts.
   */
  readonly bufferTotal: number;
  /** Where spooled responses' files are made (absolute; unlinked as soon as opened). */
  readonly spoolDir: string;
  /** The bounds of the downstream HTTP/2 server (proxy/accept/h2/h2-limits.ts reads them). */
  readonly http2: Http2Limits;
  /** Per client address (proxy/accept/client-limits.ts); absent: no per-client bound. */
  readonly perClient?: PerClientLimits;
}

/** Bytes of disk spooled responses may take, in bytes; past either, the upstream waits for the client. */
export interface SpoolLimits {
  /** One response's file. */
  readonly maxResponse: number;
  /** Every spooled response's files together, in this process (a cluster's workers split it); 0: no spooling. */
  readonly maxTotal: number;
}

/** What one client may hold at once in one process; an absent field is no bound. */
export interface PerClientLimits {
  /** Open connections; past it a new one is answered 429 and closed. */
  readonly connections?: number;
  /** Requests in flight; past it a new one is answered 429. */
  readonly requests?: number;
  /**
   * What `requests` counts by: the client's address (from the accept), or with `identity` the
   * user the route's auth admitted (counted after auth; a request no auth named is counted by
   * its address, at the same point). Connections are always counted by address.
   */
  readonly key: 'address' | 'identity';
}

/** Bounds against hostile HTTP/2 clients, per connection; bytes and milliseconds. */
export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (names, values and 32 bytes a field). */
  readonly maxHeaderListSize: number;
  /** Fields in one header list, pseudo-fields included. */
  readonly maxHeaderFields: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table, the client's and ours. */
  readonly headerTableSize: number;
  /** What one connection may hold in nghttp2, in bytes (node:http2 takes whole MiB). */
  readonly maxSessionMemory: number;
  /**
   * What one connection may have held for it in the gateway, summed over its streams: request
   * bodies read whole and responses waiting for the client to take them (bytes).
   */
  readonly connectionBuffer: number;
  /** Invalid frames (malformed requests, empty DATA frames) tolerated on one connection: the next closes it. */
  readonly maxInvalidFrames: number;
  /**
   * New streams node:http2 refuses in a row on one connection (past maxSessionMemory, or while it
   * still holds maxConcurrentStreams streams): the next closes it.
   */
  readonly maxRejectedStreams: number;
  /** The fixed window the rates below are counted over. */
  readonly floodWindow: number;
  /** Streams the client resets before their answer, per window (rapid reset, CVE-2023-44487). */
  readonly maxClientResets: number;
  readonly maxPings: number;
  readonly maxSettingsFrames: number;
  /** New streams per window on one connection. */
  readonly maxRequests: number;
  /** A response whose stream cannot move (the client's window stays shut) this long is reset. */
  readonly sendTimeout: number;
  /** A connection with no stream open and no PING or SETTINGS this long gets GOAWAY NO_ERROR. */
  readonly idleTimeout: number;
}
