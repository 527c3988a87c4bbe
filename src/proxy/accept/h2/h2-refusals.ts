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
 * `ERR_HTTP2_TOO_MANY_INVALID_FRAMES`. Either way node:http2 then destroys the session with
 * its default code, GOAWAY INTERNAL_ERROR.
 */
const NGHTTP2_ERR_CALLBACK_FAILURE = -902;

/** A bound nghttp2 enforced on its own; `code`: the GOAWAY's, undefined when nghttp2 chose it. */
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
  error: Error & { errno?: number; code?: string },
  limits: H2Limits,
  openStreams: number,
): Nghttp2Refusal | undefined {
  if (error.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES')
    return {
      bound: 'invalid_frames',
      code: constants.NGHTTP2_INTERNAL_ERROR,
      details: `more than ${limits.maxInvalidFrames} invalid frames (malformed requests, empty DATA frames)`,
    };
  // Only nghttp2's own refusals: a socket error (the client reset the connection) is no bound.
  if (error.code !== 'ERR_HTTP2_ERROR') return undefined;
  if (error.errno === NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
    return { bound: 'continuation_flood', code: constants.NGHTTP2_INTERNAL_ERROR, details: error.message };
  if (error.errno === NGHTTP2_ERR_CALLBACK_FAILURE)
    return {
      bound: 'rejected_streams',
      code: constants.NGHTTP2_INTERNAL_ERROR,
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
