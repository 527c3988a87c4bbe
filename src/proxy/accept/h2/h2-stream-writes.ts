/**
 * What the HTTP/2 response sink (h2-answer.ts) hands node:http2: an interim head, the final
 * head with the body held with it, the trailers. Each says whether node:http2 took it; none throws
 * into the sink (a refusal of the head or the trailers cuts the stream there, a refused interim is dropped).
 */
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { withoutLength } from '../../../core/http1/answer-rules.ts';
import { h2Fields, headerListSize, headObject, joinRepeatedFields } from './h2-answer-fields.ts';

/** respond()'s options (node:http2 reads them and keeps nothing): one object each, not one a response. */
export type RespondOptions = { readonly endStream?: boolean; readonly waitForTrailers?: boolean };
export const END_STREAM: RespondOptions = Object.freeze({ endStream: true });
export const OPEN_STREAM: RespondOptions = Object.freeze({ endStream: false });
export const WAIT_FOR_TRAILERS: RespondOptions = Object.freeze({ waitForTrailers: true });

/**
 * Body held with the head until the end of the tick, at most: HTTP/2's smallest maximum frame
 * size (RFC 9113 §4.2), so what is held fits one DATA frame and never escapes backpressure.
 */
export const BATCH_BYTES = 16 * 1024;

/** Body held with a head to the end of its tick: the one chunk a small answer has as it is, a list only from a second one. */
export type PendingBody = Buffer | Buffer[];

/** `held` with `chunk` after it (no array a response: one only from the second chunk). */
export function pendingWith(held: PendingBody | undefined, chunk: Buffer): PendingBody {
  if (held === undefined) return chunk;
  if (!Array.isArray(held)) return [held, chunk];
  held.push(chunk);
  return held;
}

/** What was held, as one buffer (the DATA frame that goes with the head). */
export function joinPending(held: PendingBody): Buffer {
  return Array.isArray(held) ? Buffer.concat(held) : held;
}

/**
 * An interim (1xx) head: false when it does not go. A client not reading is sent no more of them
 * (they would pile up in the session). One larger than the client takes (`limit`)
 * would make it reset the stream: dropped, as a hint may be (counted as if every field went, the
 * ones h2Fields drops included).
 */
export function sendInterimHead(
  stream: ServerHttp2Stream,
  status: number,
  headers: readonly string[],
  limit: number,
): boolean {
  if (stream.writableNeedDrain || headerListSize(headers) + 7 + 3 + 32 > limit) return false;
  try {
    const fields: OutgoingHttpHeaders = Object.create(null);
    fields[':status'] = status;
    // No Content-Length (RFC 9110 §8.6): a 1xx with one is a malformed answer (RFC 9113 §8.1.1),
    // which the client resets, the final answer behind it lost with it.
    stream.additionalHeaders(h2Fields(withoutLength(headers), fields));
    return true;
  } catch {
    // An interim head node:http2 will not send is dropped: it is only a hint.
    return false;
  }
}

/**
 * The final head: false when node:http2 will not send it (a field it refuses), as it must not
 * throw into a later tick. One whose only fault is a field repeated that node:http2 takes once
 * goes with its repeats joined.
 */
export function respondWith(stream: ServerHttp2Stream, head: string[], options: RespondOptions): boolean {
  try {
    respond(stream, head, options);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_HTTP2_HEADER_SINGLE_VALUE')
      try {
        respond(stream, joinRepeatedFields(head), options);
        return true;
      } catch {}
    return false;
  }
}

/**
 * Whether this Node's respond() takes a head as a raw list. Node 24 does, and Node 22 since a
 * later 22.x; the package runs on 22.18, whose respond() refuses one (ERR_INVALID_ARG_TYPE)
 * before it touches the stream: every HTTP/2 answer was then a stream reset. Found at the first
 * answer, once for the process.
 */
let rawHeads = true;

function respond(stream: ServerHttp2Stream, head: string[], options: RespondOptions): void {
  if (rawHeads)
    try {
      return stream.respond(head, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_INVALID_ARG_TYPE') throw err;
      rawHeads = false;
    }
  stream.respond(headObject(head), options);
}

/** The trailers (none: an empty section); false when node:http2 will not send them (a name HTTP/2 forbids in trailers). */
export function sendTrailersOn(stream: ServerHttp2Stream, trailers: readonly string[] | undefined): boolean {
  try {
    stream.sendTrailers(trailers === undefined ? {} : h2Fields(trailers));
    return true;
  } catch {
    return false;
  }
}
