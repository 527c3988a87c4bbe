import http2 from 'node:http2';
import type { H2Bound } from './h2-bound.ts';
import type { H2Limits } from './h2-limits.ts';

const { constants } = http2;

/**
 * nghttp2's error number the session's error carries (`errno`) when a header block had too
 * many CONTINUATION frames. Every other refusal reaches here as NGHTTP2_ERR_PROTO (-505),
 * whatever code its GOAWAY had (PROTOCOL_ERROR, COMPRESSION_ERROR for a HPACK table past
 * ours, FLOW_CONTROL_ERROR…): node:http2 does not say which.
 */
const NGHTTP2_ERR_TOO_MANY_CONTINUATIONS = -905;

/**
 * What node:http2 makes nghttp2 fail with when one of its own callbacks refuses to go on. With
 * no code of node:http2's own (`ERR_HTTP2_ERROR`), the one such refusal is a new stream past
 * `maxSessionRejectedStreams`; past `maxSessionInvalidFrames` the error says
 * `ERR_HTTP2_TOO_MANY_INVALID_FRAMES`.
 */
const NGHTTP2_ERR_CALLBACK_FAILURE = -902;

/** nghttp2's "Protocol error": a frame HTTP/2 forbids, DATA past its stream's content-length among them. */
const NGHTTP2_ERR_PROTO = -505;

/** A connection (TLS, h2 by ALPN) that did not open with the preface: an HTTP/1.1 request, say. */
const NGHTTP2_ERR_BAD_CLIENT_MAGIC = -903;

type SessionError = Error & { errno?: number; code?: string };

/**
 * The GOAWAY code for an error node:http2 destroys a session with, where its own would be wrong:
 * it says INTERNAL_ERROR ("the server broke") for every one. A flood nghttp2 or node:http2
 * stopped is ENHANCE_YOUR_CALM (RFC 9113 §10.5, and nginx's code for a CONTINUATION flood); a
 * frame HTTP/2 forbids, or a broken preface, PROTOCOL_ERROR (§8.1.1, §3.4). Where nghttp2 has
 * already sent a GOAWAY of its own (COMPRESSION_ERROR, FLOW_CONTROL_ERROR…), that one stands:
 * nghttp2 sends no second. Undefined: node:http2's code (a socket error, which no GOAWAY reaches).
 */
export function goawayCodeFor(error: SessionError): number | undefined {
  if (error.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') return constants.NGHTTP2_ENHANCE_YOUR_CALM;
  if (error.code !== 'ERR_HTTP2_ERROR') return undefined;
  if (error.errno === NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || error.errno === NGHTTP2_ERR_CALLBACK_FAILURE)
    return constants.NGHTTP2_ENHANCE_YOUR_CALM;
  if (error.errno === NGHTTP2_ERR_PROTO || error.errno === NGHTTP2_ERR_BAD_CLIENT_MAGIC)
    return constants.NGHTTP2_PROTOCOL_ERROR;
  return undefined;
}

/** A bound nghttp2 enforced on its own; `code`: the GOAWAY's (goawayCodeFor's, where the gateway gives it), undefined when nghttp2 chose it. */
export interface Nghttp2Refusal {
  readonly bound: H2Bound;
  readonly code: number | undefined;
  readonly details: string;
}

/**
 * The bound a session's error says nghttp2 closed the connection for (it has sent GOAWAY), or
 * undefined for an error that is no bound (a socket error: the client reset the connection).
 * `openStreams`: the connection's streams open as it failed.
 */
export function nghttp2Refusal(
  error: SessionError,
  limits: H2Limits,
  openStreams: number,
): Nghttp2Refusal | undefined {
  if (error.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES')
    return {
      bound: 'invalid_frames',
      code: goawayCodeFor(error),
      details: `more than ${limits.maxInvalidFrames} invalid frames (malformed requests, empty DATA frames)`,
    };
  // Only nghttp2's own refusals: a socket error (the client reset the connection) is no bound.
  if (error.code !== 'ERR_HTTP2_ERROR') return undefined;
  if (error.errno === NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
    return { bound: 'continuation_flood', code: goawayCodeFor(error), details: error.message };
  if (error.errno === NGHTTP2_ERR_CALLBACK_FAILURE)
    return {
      bound: 'rejected_streams',
      code: goawayCodeFor(error),
      details: `more than ${limits.maxRejectedStreams} new streams refused in a row (past max_session_memory, or while max_concurrent_streams were still held)`,
    };
  if (openStreams >= limits.maxConcurrentStreams)
    return {
      bound: 'max_concurrent_streams',
      code: constants.NGHTTP2_PROTOCOL_ERROR,
      details: `a stream past SETTINGS_MAX_CONCURRENT_STREAMS ${limits.maxConcurrentStreams}`,
    };
  return { bound: 'protocol_error', code: undefined, details: `nghttp2: ${error.message}` };
}
