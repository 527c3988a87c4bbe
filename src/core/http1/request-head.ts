/**
 * The request line and header section of an HTTP/1.1 request, as the gateway writes it
 * upstream. One serializer, so that `candor diagnose` writes the very bytes the gateway
 * would (src/kits/diagnose/request.ts) instead of an imitation that drifts.
 */
import { endHead, FieldLineMemo } from './field-line-memo.ts';
import { nameIs } from './syntax.ts';

/** What a head is made of; the connection contract's ExchangeRequest fits it as it is. */
interface RequestHeadInput {
  readonly method: string;
  readonly path: string;
  /** Flat [name, value, …], written in this order and case. */
  readonly headers: readonly string[];
  /** `lengthAnnounced: false`: a streamed body whose length the client did not announce (sent chunked). */
  readonly body:
    | { readonly kind: 'none' | 'buffer' }
    | { readonly kind: 'stream'; readonly lengthAnnounced: boolean };
}

/** A body-less POST, PUT or PATCH without Content-Length is ambiguous to some servers (411). */
const NO_BODY_CONTENT_LENGTH_METHODS = new Set(['POST', 'PUT', 'PATCH']);
// Shared, never built per request: this runs for every request the gateway sends.
const CHUNKED: readonly string[] = Object.freeze(['transfer-encoding', 'chunked']);
const ZERO_LENGTH: readonly string[] = Object.freeze(['content-length', '0']);
const NONE: readonly string[] = Object.freeze([]);

/**
 * The framing fields this hop owns and adds after the others: `transfer-encoding: chunked`
 * for a body of unknown length, `content-length: 0` for a body-less POST/PUT/PATCH that says
 * nothing of its length; none otherwise. Flat [name, value, …].
 */
export function framingFields(request: RequestHeadInput): readonly string[] {
  const { body } = request;
  if (body.kind === 'stream' && !body.lengthAnnounced) return CHUNKED;
  if (
    body.kind === 'none' &&
    NO_BODY_CONTENT_LENGTH_METHODS.has(request.method) &&
    !hasLength(request.headers)
  )
    return ZERO_LENGTH;
  return NONE;
}

/**
 * "METHOD path HTTP/1.1", the fields in order, Host (`authority`, the target's host[:port])
 * when the fields have none (an HTTP/1.0 client may send none), the framing fields, and the
 * empty line. Latin-1 text: write it with that encoding.
 */
export function serializeRequestHead(request: RequestHeadInput, authority: string): string {
  const { headers } = request;
  // Pieces joined once (as the access line is built): appending made two strings per field.
  const parts = PARTS;
  const { method } = request;
  // The join costs a piece whatever its length (heads3, field-line-memo.ts): a GET's `GET ` is one.
  let n = 0;
  if (method === 'GET') parts[n++] = 'GET ';
  else {
    parts[n++] = method;
    parts[n++] = ' ';
  }
  parts[n++] = request.path;
  parts[n++] = ' HTTP/1.1\r\n';
  let host = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (nameIs(name, 'host')) host = true;
    n = LINES.put(parts, n, i >> 1, name, headers[i + 1]);
  }
  if (!host) n = putField(parts, n, 'host', authority);
  const framing = framingFields(request);
  for (let i = 0; i < framing.length; i += 2) n = putField(parts, n, framing[i], framing[i + 1]);
  n = endHead(parts, n);
  // Only a head with fewer fields than the last leaves pieces past its end: cut.
  if (parts.length > n) parts.length = n;
  return parts.join('');
}

/** The pieces of the head being built: one array kept for every head (never emptied: it would give its storage back). */
const PARTS: string[] = [];
/** The field lines of the heads before, by place: most are this one's too. */
const LINES = new FieldLineMemo();

function putField(parts: string[], n: number, name: string, value: string): number {
  parts[n] = name;
  parts[n + 1] = ': ';
  parts[n + 2] = value;
  parts[n + 3] = '\r\n';
  return n + 4;
}

function hasLength(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) if (nameIs(headers[i], 'content-length')) return true;
  return false;
}
