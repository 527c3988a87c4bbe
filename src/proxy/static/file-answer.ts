/**
 * The answer a static route makes of an opened file: its validators (a strong ETag of its inode,
 * size and modification time to the nanosecond; Last-Modified), the client's preconditions met
 * (RFC 9110 §13.2.2: 412, 304), one byte range (§14.2: 206, 416; several ranges, or an If-Range
 * the file fails, get the whole 200, as §14.2 allows), and its body streamed from the file.
 */
import { createReadStream } from 'node:fs';
import type { ContentCoding } from '../../core/config/types.ts';
import { httpDate } from '../../core/http-date.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { OwnAnswer, StreamedAnswer } from '../../core/net/own-answer.ts';
import { notModified, preconditionFailed } from '../cache/conditional-hit.ts';
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

/** The file's answer; its descriptor stays open for the body (the stage's run closes it at the request's end). */
export function fileAnswer(file: OpenedFile, ask: FileAsk): OwnAnswer {
  const { stats } = file;
  const size = Number(stats.size);
  const etag = `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}"`;
  const modified = new Date(Number(stats.mtimeMs)).toUTCString();
  const validators = ['etag', etag, 'last-modified', modified];
  const shared = [...validators];
  if (ask.cacheControl !== undefined) shared.push('cache-control', ask.cacheControl);
  if (ask.varies) shared.push('vary', 'Accept-Encoding');
  if (preconditionFailed(ask.request, validators)) return new OwnAnswer(412, shared);
  if (notModified(ask.request, validators)) return new StreamedAnswer(304, shared, size, undefined);
  const fields = [...shared, 'content-type', mediaTypeOf(ask.name), 'x-content-type-options', 'nosniff'];
  if (ask.coding !== undefined) fields.push('content-encoding', ask.coding);
  fields.push('accept-ranges', 'bytes');
  const range = rangeOf(ask.request, etag, Number(stats.mtimeMs), size);
  if (range === 'unsatisfiable') return new OwnAnswer(416, [...shared, 'content-range', `bytes */${size}`]);
  const [status, start, end] = range === undefined ? [200, 0, size - 1] : [206, range.start, range.end];
  if (status === 206) fields.push('content-range', `bytes ${start}-${end}/${size}`);
  const length = end - start + 1;
  // From the descriptor (its path is not read again), left open: the stage's run closes it (file.close).
  const stream =
    ask.head || length === 0
      ? undefined
      : createReadStream('', { fd: file.fd, start, end, autoClose: false });
  if (stream !== undefined) file.readBy(stream);
  // The file read whole is the file told: its inode, size and time again after the read (an edit
  // in place, a truncation and growth back, a rename over it all show).
  const done = async () => {
    const after = await file.restat();
    return after.size === stats.size && after.mtimeNs === stats.mtimeNs && after.ino === stats.ino;
  };
  return new StreamedAnswer(status, fields, length, stream, done);
}

/**
 * The one byte range a GET asks for (the grammar stored-range.ts reads): undefined for none,
 * several, another unit, one that does not read, or an If-Range the file fails (§13.1.5: the
 * strong ETag exactly, or the Last-Modified exactly when it is at least a second old, §8.8.2.2).
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
  if (ifRange !== undefined && !ifRangeHolds(String(ifRange).trim(), etag, modifiedMs)) return undefined;
  const asked = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(range);
  if (asked === null || (asked[1] === '' && asked[2] === '')) return undefined;
  const [first, last] = [asked[1], asked[2]];
  const start = first === '' ? Math.max(0, size - Number(last)) : Number(first);
  const end = first === '' || last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (first !== '' && last !== '' && Number(last) < start) return undefined;
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function ifRangeHolds(value: string, etag: string, modifiedMs: number): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const seconds = Math.floor(modifiedMs / 1000) * 1000;
  return Date.now() - modifiedMs >= 1000 && httpDate(value) === seconds;
}
