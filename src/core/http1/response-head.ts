/**
 * The status line and header section of a response, as the gateway writes it to a client:
 * the one serializer for every head Candor writes itself (1xx, the 101 of a tunnel, an
 * answer on a socket Node's parser gave up on), so that they cannot drift apart.
 */

/**
 * "HTTP/1.1 status reason", the fields in order and case, and the empty line. The fields are
 * the caller's to have checked (they come from the strict parser and the head builder, or
 * are the gateway's own). `before` and `after` are field lines ("name: value\r\n" each) the
 * caller adds around them (this hop's Date, framing and Connection), so that a head passed on
 * is not copied to add them. Latin-1 text: write it with that encoding.
 */
export function serializeResponseHead(
  status: number,
  reason: string,
  headers: readonly string[],
  before = '',
  after = '',
): string {
  let text = `HTTP/1.1 ${status} ${reason}\r\n${before}`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}${after}\r\n`;
}
