/**
 * The answer a static route makes of an opened file: its validators (a strong ETag of its inode,
 * size and change time to the nanosecond; Last-Modified), the client's preconditions met
 * (RFC 9110 §13.2.2: 412, 304), one byte range (§14.2: 206, 416; several ranges none of which
 * the file has, 416; several others, or an If-Range the file fails, get the whole 200, as §14.2
 * allows), and its body streamed from the file.
 */
import { createReadStream } from 'node:fs';
import type { ContentCoding } from '../../core/config/types.ts';
import { httpDate } from '../../core/http-date.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { OwnAnswer, RefusalAnswer, StreamedAnswer } from '../../core/net/own-answer.ts';
import { notModified, preconditionFailed } from '../cache/conditional-hit.ts';
import { loneRangeSpec, noneSatisfiable } from '../cache/stored-range.ts';
import { mediaTypeOf } from './media-types.ts';
import type { OpenedFile } from './open-file.ts';

/** What of the route and the request the answer reads besides the file. */
export interface FileAsk {
  /** The name whose extension gives the media type (a precompressed sibling's: the file it stands for). */
  readonly name: string;
  /** The sibling's coding, when a precompressed one is sent. */
  readonly coding: ContentCoding | undefined;
  readonly cacheControl: string | undefined;
  /** The route offers precompressed siblings: every answer varies by Accept-Encoding. */
  readonly varies: boolean;
  readonly request: FieldMap;
  /** HEAD: the head a GET would get, no body read. */
  readonly head: boolean;
}

/**
 * A body this small is read in one read before the head goes, and sent with it in one write: no
 * stream to make and pace, a fifth of a 100-byte file's cost. Past it, the body streams.
 */
const READ_WHOLE = 16 * 1024;

/** The file's answer; its descriptor stays open for the body (the stage's run closes it at the request's end). */
export function fileAnswer(file: OpenedFile, ask: FileAsk): OwnAnswer | Promise<OwnAnswer> {
  const { stats } = file;
  const size = Number(stats.size);
  // The change time, not the modification time: it moves whenever that one does, and when an
  // edit in place puts that one back (`cp -p`, a reproducible build's fixed time), so new bytes of
  // the same size never pass for the old (a 304, an If-Range's 206 of them). A chmod or a link
  // moves it too: a client then gets the same bytes again once, never wrong ones.
  const etag = `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.ctimeNs.toString(16)}"`;
  // A time ahead of the clock (a skewed build machine's, a tar's) is sent as now, as RFC 9110
  // §8.8.2.1 requires: a Last-Modified in the future would meet every If-Modified-Since until then.
  const modified = new Date(Math.min(Number(stats.mtimeMs), Date.now())).toUTCString();
  const validators = ['etag', etag, 'last-modified', modified];
  // The route's cache_control goes on 200, 206 and 304 alone: a 412 or 416 kept for a year by a
  // shared cache (`immutable`) would refuse every later request of it; they keep no-store, a
  // response_headers rule's Cache-Control too (RefusalAnswer).
  const refusal = [...validators, 'cache-control', 'no-store'];
  if (ask.varies) refusal.push('vary', 'Accept-Encoding');
  const shared = [...validators];
  if (ask.cacheControl !== undefined) shared.push('cache-control', ask.cacheControl);
  if (ask.varies) shared.push('vary', 'Accept-Encoding');
  if (preconditionFailed(ask.request, validators)) return new RefusalAnswer(412, refusal);
  if (notModified(ask.request, validators)) return new StreamedAnswer(304, shared, size, undefined);
  const fields = [...shared, 'content-type', mediaTypeOf(ask.name), 'x-content-type-options', 'nosniff'];
  if (ask.coding !== undefined) fields.push('content-encoding', ask.coding);
  fields.push('accept-ranges', 'bytes');
  // A HEAD's Range is ignored (RFC 9110 §14.2: range handling is defined for GET alone, and a
  // server "MUST ignore" it on another method): the whole 200's head, its length the file's.
  const range = ask.head ? undefined : rangeOf(ask.request, etag, Number(stats.mtimeMs), size);
  if (range === 'unsatisfiable')
    return new RefusalAnswer(416, [...refusal, 'content-range', `bytes */${size}`]);
  const [status, start, end] = range === undefined ? [200, 0, size - 1] : [206, range.start, range.end];
  if (status === 206) fields.push('content-range', `bytes ${start}-${end}/${size}`);
  const length = end - start + 1;
  if (!ask.head && length > 0 && length <= READ_WHOLE)
    return readWhole(file, start, length).then((body) =>
      body === undefined
        ? streamed(file, ask, status, fields, start, end)
        : new OwnAnswer(status, fields, body),
    );
  return streamed(file, ask, status, fields, start, end);
}

/**
 * `length` bytes of the file from `start`, read at once, when the file is still the one told
 * (its inode, size and time again after the read: an edit in place shows); undefined when it is
 * not or the read fell short or failed: the body then streams, and that read's own check cuts it
 * (never a body that passes for whole).
 */
function readWhole(file: OpenedFile, start: number, length: number): Promise<Buffer | undefined> {
  const body = Buffer.allocUnsafe(length);
  return file
    .readAt(body, start, length)
    .then(async (bytes) => (bytes === length && (await file.unchanged()) ? body : undefined))
    .catch(() => undefined);
}

/** The answer whose body streams from the file (none to a HEAD, or of no length). */
function streamed(
  file: OpenedFile,
  ask: FileAsk,
  status: number,
  fields: string[],
  start: number,
  end: number,
): StreamedAnswer {
  const length = end - start + 1;
  // From the descriptor (its path is not read again), left open: the stage's run closes it (file.close).
  const stream =
    ask.head || length === 0
      ? undefined
      : createReadStream('', { fd: file.fd, start, end, autoClose: false });
  if (stream !== undefined) file.readBy(stream);
  // The file read whole is the file told: its inode, size and times again after the read (an edit
  // in place, a truncation and growth back, its time put back or not, all show; a rename over its
  // name leaves the descriptor's bytes as they were, sent whole).
  return new StreamedAnswer(status, fields, length, stream, () => file.unchanged());
}

/**
 * The one byte range a GET asks for (the grammar stored-range.ts reads, empty list elements
 * dropped): 'unsatisfiable' for one past the end, or several none of which the file has
 * (noneSatisfiable); undefined for none, several others, another unit, one that does not read, or
 * an If-Range the file fails (§13.1.5: the strong ETag exactly, or the Last-Modified exactly when
 * it is at least a second old, §8.8.2.2).
 */
function rangeOf(
  request: FieldMap,
  etag: string,
  modifiedMs: number,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const range = request.range;
  if (typeof range !== 'string') return undefined;
  const ifRange = request['if-range'];
  if (ifRange !== undefined && !ifRangeMatches(String(ifRange).trim(), etag, modifiedMs)) return undefined;
  const asked = loneRangeSpec(range);
  if (asked === undefined) return noneSatisfiable(range, size) ? 'unsatisfiable' : undefined;
  const [first, last] = asked;
  // An empty file's one satisfiable range is a suffix of some length (§14.1.1): it is the whole
  // file, of no bytes, which no Content-Range can name: the whole 200, never a 416.
  if (size === 0 && first === '' && Number(last) > 0) return undefined;
  const start = first === '' ? Math.max(0, size - Number(last)) : Number(first);
  const end = first === '' || last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (first !== '' && last !== '' && Number(last) < start) return undefined;
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function ifRangeMatches(value: string, etag: string, modifiedMs: number): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const seconds = Math.floor(modifiedMs / 1000) * 1000;
  return Date.now() - modifiedMs >= 1000 && httpDate(value) === seconds;
}
