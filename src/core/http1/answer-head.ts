/**
 * The status line and header section of a response, as the gateway writes it to a client:
 * the one serializer for every head Candor writes itself (1xx, the 101 of a tunnel, an
 * answer on a socket Node's parser gave up on), so that they cannot drift apart.
 */
import { endHead, FieldLineMemo } from './field-line-memo.ts';

/**
 * "HTTP/1.1 status reason", the fields in order and case, and the empty line. The fields are
 * the caller's to have checked (they come from the strict parser and the head builder, or
 * are the gateway's own). `before` and `after` are field lines ("name: value\r\n" each) the
 * caller adds around them (this hop's Date, framing and Connection), so that a head passed on
 * is not copied to add them. Latin-1 text: write it with that encoding.
 */
export function serializeAnswerHead(
  status: number,
  reason: string,
  headers: readonly string[],
  before = '',
  after = '',
): string {
  // Pieces joined once (as the request head and the access line are): appending made a
  // string per piece, some twenty a head, then one more to flatten them for the socket.
  const parts = PARTS;
  parts[0] = statusLine(status, reason);
  let n = 1;
  // An empty piece costs the join what any other does (an upstream's answer says its own Date).
  if (before !== '') parts[n++] = before;
  for (let i = 0; i < headers.length; i += 2) n = LINES.put(parts, n, i >> 1, headers[i], headers[i + 1]);
  if (after !== '') parts[n++] = after;
  n = endHead(parts, n);
  // Only a head with fewer fields than the last leaves pieces past its end: cut.
  if (parts.length > n) parts.length = n;
  return parts.join('');
}

/** The pieces of the head being built: one array kept for every head (never emptied: it would give its storage back). */
const PARTS: string[] = [];
/** The field lines of the heads before, by place: most are this one's too. */
const LINES = new FieldLineMemo();

/** The status line last written, and what it was made of: most answers have the status and reason of the one before. */
const last = { status: 0, reason: '', line: '' };

/** "HTTP/1.1 status reason\r\n": one piece of the head, made again only for another status or reason. */
function statusLine(status: number, reason: string): string {
  if (status !== last.status || reason !== last.reason) {
    last.status = status;
    last.reason = reason;
    last.line = `HTTP/1.1 ${status} ${reason}\r\n`;
  }
  return last.line;
}
