/**
 * The bounds of Candor's downstream HTTP/2 server, one place for each and its default. Where
 * node:http2 (nghttp2) already holds a bound, it is handed over as Node's option; the floods
 * Node does not count (PING, SETTINGS, client resets, the request rate) are counted per
 * connection over FLOOD_WINDOW_MS by h2-guard.ts. Shaped for a config section
 * (`listen[].http2`): every field optional there, the defaults below filled in.
 */
import type { ServerOptions } from 'node:http2';

const KiB = 1024;

export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open at once. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2: names, values and 32 bytes a field). */
  readonly maxHeaderListSize: number;
  /** The longest `:path` (the request target), as `limits.uri_length` on the HTTP/1.1 side: past it, 414. */
  readonly uriLength: number;
  /** Fields in one header list, pseudo-fields included. */
  readonly maxHeaderFields: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table a client's encoder may use (and ours). */
  readonly headerTableSize: number;
  /** What one connection may hold in nghttp2 (streams, tables, queued frames), in MiB. */
  readonly maxSessionMemoryMiB: number;
  /** Invalid frames tolerated on one connection before it is closed. */
  readonly maxInvalidFrames: number;
  /** Streams refused on one connection (past the concurrency bound) before it is closed. */
  readonly maxRejectedStreams: number;
  /** The window every rate below is counted over (fixed windows, per connection). */
  readonly floodWindowMs: number;
  /** Streams the client resets (RST_STREAM) before their answer, per window: rapid reset, CVE-2023-44487. */
  readonly maxClientResets: number;
  /** PING frames from the client per window. */
  readonly maxPings: number;
  /** SETTINGS frames from the client per window. */
  readonly maxSettingsFrames: number;
  /** Requests (new streams) per window on one connection. */
  readonly maxRequests: number;
  /** A response that cannot be sent on (the client's flow-control window stays shut) for this long is reset. */
  readonly sendTimeoutMs: number;
  /** A connection with no open stream and no traffic for this long is closed with GOAWAY NO_ERROR. */
  readonly idleTimeoutMs: number;
}

/** The window the flood counts use: long enough to see a storm, short enough to forget a burst. */
export const FLOOD_WINDOW_MS = 10_000;

export const H2_DEFAULTS: H2Limits = {
  // RFC 9113 §6.5.2 recommends no fewer than 100; nginx's http2_max_concurrent_streams is 128.
  maxConcurrentStreams: 100,
  // The HTTP/1.1 side's limits.header_size default.
  maxHeaderListSize: 32 * KiB,
  // The HTTP/1.1 side's limits.uri_length default.
  uriLength: 8 * KiB,
  maxHeaderFields: 128,
  // The protocol's initial value: every client can live with it.
  headerTableSize: 4 * KiB,
  maxSessionMemoryMiB: 10,
  maxInvalidFrames: 100,
  maxRejectedStreams: 100,
  floodWindowMs: FLOOD_WINDOW_MS,
  // Browsers cancel streams when a page navigates away, a few dozen at most; an attack sends
  // thousands a second (nghttp2's own bound, 1,000 then 33 a second, comes much later).
  maxClientResets: 200,
  // Ten a second: keep-alive and BDP probes send far fewer.
  maxPings: 100,
  maxSettingsFrames: 100,
  // 10,000 a second on one connection: no browser or service needs more; a bench's h2load
  // over a few connections stays below.
  maxRequests: 100_000,
  // As limits.send_timeout on the HTTP/1.1 side.
  sendTimeoutMs: 30_000,
  // Browsers keep an HTTP/2 connection a long time; nginx's keepalive_timeout is 75 s.
  idleTimeoutMs: 75_000,
};

/** Fills in what a partial (config) section leaves out. */
export function h2Limits(partial: Partial<H2Limits> = {}): H2Limits {
  return { ...H2_DEFAULTS, ...partial };
}

/** The bounds node:http2 enforces itself, as its server options. */
export function nodeH2Options(limits: H2Limits): ServerOptions {
  return {
    maxSessionMemory: limits.maxSessionMemoryMiB,
    maxHeaderListPairs: limits.maxHeaderFields,
    maxDeflateDynamicTableSize: limits.headerTableSize,
    maxSessionInvalidFrames: limits.maxInvalidFrames,
    maxSessionRejectedStreams: limits.maxRejectedStreams,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderListSize,
      headerTableSize: limits.headerTableSize,
      // A gateway never pushes.
      enablePush: false,
    },
  };
}
