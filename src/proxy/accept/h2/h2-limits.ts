/**
 * The bounds of Candor's downstream HTTP/2 server, as the normalized config holds them
 * (`limits.http2`, bytes and milliseconds; their defaults live in core/config/defaults.ts and
 * nowhere else). Where node:http2 (nghttp2) already holds a bound, it is handed over as
 * Node's option (nodeH2Options, the one place units change); the floods Node does not count
 * (PING, SETTINGS, client resets, the request rate) are counted per connection over
 * `floodWindow` by h2-guard.ts.
 */
import type { ServerOptions } from 'node:http2';
import type { DownstreamLimits, Http2Limits } from '../../../core/config/types.ts';
import { MiB } from '../../../core/config/units.ts';

export interface H2Limits extends Http2Limits {
  /** The longest `:path` (the request target), as `limits.uri_length` on the HTTP/1.1 side: past it, 414. */
  readonly uriLength: number;
}

/** The HTTP/2 bounds of a config's downstream limits. */
export function h2Limits(limits: Pick<DownstreamLimits, 'uriLength' | 'http2'>): H2Limits {
  return { ...limits.http2, uriLength: limits.uriLength };
}

/** The bounds node:http2 enforces itself, as its server options. */
export function nodeH2Options(limits: H2Limits): ServerOptions {
  return {
    // node:http2 takes whole MiB: a bound in bytes rounds up, never to nothing.
    maxSessionMemory: Math.max(1, Math.ceil(limits.maxSessionMemory / MiB)),
    maxHeaderListPairs: nodeHeaderPairs(limits),
    maxDeflateDynamicTableSize: limits.headerTableSize,
    // node:http2 closes the connection at the first one past its count plus one (it compares
    // before counting): one less, so that `max_invalid_frames` of them pass and the next closes.
    maxSessionInvalidFrames: limits.maxInvalidFrames - 1,
    // The same, for new streams refused in a row.
    maxSessionRejectedStreams: limits.maxRejectedStreams - 1,
    // RFC 9113 §8.2.1: a field value with whitespace at either end makes the request
    // malformed. nghttp2's own check of it (node:http2's default) drops such a field silently
    // and the request goes on without it; off, the field reaches h2Refusal, which refuses
    // the request (400). What nghttp2 drops whatever this says, node:http2 ignores without a
    // word (its invalid-header callback returns 0, Node 24), so no JS can refuse it: a field
    // name with a character outside lower-case tchar (a colon, a space, NUL, CR, LF; upper case
    // is reset PROTOCOL_ERROR), and a value with NUL, CR, LF, another control or DEL. Such a
    // field never reaches the upstream; the request does, without it.
    strictFieldWhitespaceValidation: false,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderListSize,
      headerTableSize: limits.headerTableSize,
      // A gateway never pushes.
      enablePush: false,
    },
  };
}

/**
 * node:http2's own cap on the fields of a header list, above `max_header_fields` so that a
 * request past it reaches h2Refusal and is answered 431, logged and counted: at the cap,
 * node:http2 resets the stream (ENHANCE_YOUR_CALM) before any JS sees it. One field more than
 * a list within `max_header_list_size` can hold (each field counts 32 bytes and at least a
 * one-byte name): a list node:http2 still resets for its count is past that size too, and
 * the cap bounds what an unacknowledged SETTINGS leaves open (a first request's HPACK
 * references to one table entry, each a byte on the wire).
 */
function nodeHeaderPairs(limits: H2Limits): number {
  return Math.max(limits.maxHeaderFields, Math.floor(limits.maxHeaderListSize / 33)) + 1;
}
