/**
 * A plugin's own answer (a WHATWG Response, or `{ status, headers, body }`) as the stage
 * contract's OwnAnswer: its body read whole, up to MAX_PLUGIN_ANSWER (past it the plugin's answer
 * is its bug: a 500 naming it). The session adds what every answer carries (the request id,
 * Content-Length); the framing fields a plugin writes are dropped, as the route's header rules' are.
 */
import zlib from 'node:zlib';
import { reservedHeaderProblem } from '../../core/config/routing-values.ts';
import { INVALID_VALUE } from '../../core/http1/syntax.ts';
import { DIGEST_FIELDS, weakenedTag } from '../../core/net/coded-body-fields.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../../upstream/targets/upstream.ts';
import type { PluginAnswer } from './plugin-api.ts';

/**
 * The bytes of an answer's `body`: a string (UTF-8) or a Uint8Array (a Buffer, any typed array's
 * bytes). Anything else is the plugin's bug, said as such (an ArrayBuffer or a number made a
 * TypeError of Buffer's that named neither the body nor what it should be).
 */
function bodyOf(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const what =
    body instanceof ArrayBuffer
      ? 'an ArrayBuffer (wrap it: new Uint8Array(buffer))'
      : body === null
        ? 'null'
        : `a value of type ${typeof body}`;
  throw new Error(`answered with a body that is ${what}: give a string or a Uint8Array`);
}

/** Bytes of a plugin's own answer's body: an answer, not a download (a plugin serves no files). */
export const MAX_PLUGIN_ANSWER = 1024 * 1024;

/** `answered` as an OwnAnswer; a promise when its body is a stream to read. Throws (the plugin's bug) when it is no answer. */
export function ownAnswerOf(answered: PluginAnswer): OwnAnswer | Promise<OwnAnswer> {
  if (answered instanceof Response) {
    const status = statusOf(answered.status);
    const fields = fieldsOf(decodedHeaders(answered), status);
    if (answered.body === null) return new OwnAnswer(status, fields);
    return readBounded(answered.body).then((body) => new OwnAnswer(status, fields, body));
  }
  if (typeof answered !== 'object' || answered === null || typeof answered.status !== 'number')
    throw new Error(
      'returned something that is no answer: undefined to go on, a Response or { status, headers, body }',
    );
  const body = bodyOf(answered.body);
  if (body !== undefined && body.length > MAX_PLUGIN_ANSWER) throw tooLarge();
  const status = statusOf(answered.status);
  return new OwnAnswer(status, fieldsOf(new Headers(answered.headers), status), body);
}

/** The codings the global fetch (undici) takes off a body it reads (zstd where zlib has it). */
const FETCH_DECODES = new Set(['gzip', 'x-gzip', 'deflate', 'br']);
if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function')
  FETCH_DECODES.add('zstd');

/**
 * The fields of a Response the global `fetch()` made (its `url` set: a constructed Response,
 * context.fetch's among them, has none and is left as it is) as they are of the body it holds:
 * undici takes every coding of `Content-Encoding` off the body (when it knows each of them, five
 * at most) but leaves the field, so passed on, the client was told `gzip` of the decoded bytes and
 * failed to read them. Those bytes are the identity body: no Content-Encoding, and an ETag at most
 * weak and no digest (RFC 9110 §8.8.1: they named the coded bytes). Content-Length is the
 * gateway's to write anyway. A HEAD's or a 204's (no body) is told the same, as its GET would be.
 */
function decodedHeaders(answered: Response): Headers {
  const coding = answered.headers.get('content-encoding');
  if (answered.url === '' || coding === null) return answered.headers;
  const codings = coding.toLowerCase().split(',');
  if (codings.length > 5 || !codings.every((c) => FETCH_DECODES.has(c.trim()))) return answered.headers;
  const headers = new Headers(answered.headers);
  headers.delete('content-encoding');
  for (const digest of DIGEST_FIELDS) headers.delete(digest);
  const etag = headers.get('etag');
  if (etag !== null) {
    const tag = weakenedTag(etag);
    if (tag === undefined) headers.delete('etag');
    else headers.set('etag', tag);
  }
  return headers;
}

/** A status a client may be given as a final answer (a plugin's 1xx or 600 is its bug). */
function statusOf(status: number): number {
  if (!Number.isInteger(status) || status < 200 || status > 599)
    throw new Error(`answered with status ${status}: a final answer is 200 to 599`);
  return status;
}

/**
 * The fields a plugin's answer keeps: none the gateway writes itself, but a 426's Upgrade (its
 * lines one list, as Headers joins them), which RFC 9110 §15.5.22 makes a MUST of it, as an
 * upstream's 426 keeps it (keepRequiredUpgrade); the HTTP/1.1 writer names it in Connection.
 */
function fieldsOf(headers: Headers, status: number): string[] {
  const fields: string[] = [];
  for (const [name, value] of headers)
    if (reservedHeaderProblem(name) === undefined || (status === 426 && name === 'upgrade'))
      fields.push(name, checkedFieldValue(name, value));
  checkedHeadBytes(0, headBytes(headers));
  return fields;
}

/** The bytes the field lines of `fields` take in a head (`name: value` and CR LF each). */
export function headBytes(fields: Iterable<readonly [string, string]>): number {
  let bytes = 0;
  for (const [name, value] of fields) bytes += name.length + value.length + 4;
  return bytes;
}

/**
 * Thrown (the plugin's bug) when the fields a plugin wrote took a head of `before` bytes past a
 * whole head the gateway takes: each value within the bound, many of them add up to a head no
 * peer takes either. A head past it before the plugin's changes (a client's, under a raised
 * `limits.header_size`) is not its doing.
 */
export function checkedHeadBytes(before: number, after: number): void {
  if (after > UPSTREAM_MAX_HEADER_SIZE && before <= UPSTREAM_MAX_HEADER_SIZE)
    throw new Error(
      `set fields that make a head of ${after} bytes, past the ${UPSTREAM_MAX_HEADER_SIZE} of a whole head the gateway takes`,
    );
}

/**
 * `value`, a field a plugin wrote; thrown (its bug) when it holds a control character a Headers
 * lets through (RFC 9110 §5.5), or when it is larger than a whole head the gateway takes from an
 * upstream: no peer takes such a head (a client's parser overflows while the log said 200, an
 * upstream answers 431 for a request its client never made too large).
 */
export function checkedFieldValue(name: string, value: string): string {
  if (INVALID_VALUE.test(value))
    throw new Error(`set the field ${name} to a value with a control character (RFC 9110 §5.5)`);
  // A Headers value is a ByteString: its length is its bytes.
  if (value.length > UPSTREAM_MAX_HEADER_SIZE)
    throw new Error(
      `set the field ${name} to a value of ${value.length} bytes, past the ${UPSTREAM_MAX_HEADER_SIZE} of a whole head the gateway takes`,
    );
  return value;
}

async function readBounded(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.byteLength;
    if (length > MAX_PLUGIN_ANSWER) {
      await body.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, length);
}

function tooLarge(): Error {
  return new Error(`answered with a body over ${MAX_PLUGIN_ANSWER / 1024} KiB`);
}
