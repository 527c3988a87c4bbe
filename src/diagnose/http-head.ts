/**
 * A strict reader of an HTTP/1.x response head from raw bytes, as strict as the gateway's
 * parser (llhttp in undici): CRLF line endings, a status line of HTTP/1.0 or 1.1 and three
 * digits, token field names, no control characters in values, no obsolete line folding.
 */
import { UPSTREAM_MAX_HEADER_SIZE } from '../forward/upstream.ts';

export interface ResponseHead {
  readonly statusLine: string;
  readonly httpVersion: '1.0' | '1.1';
  readonly status: number;
  readonly reason: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export type HeadScan =
  | { readonly kind: 'incomplete' }
  /** The first bytes cannot start "HTTP/": whatever answered does not speak HTTP. */
  | { readonly kind: 'not-http' }
  | { readonly kind: 'too-large'; readonly size: number }
  | { readonly kind: 'invalid'; readonly reason: string; readonly line: string }
  | { readonly kind: 'head'; readonly head: ResponseHead; readonly size: number };

const PREFIX = Buffer.from('HTTP/');
const CR = 0x0d;
const LF = 0x0a;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Looks at the bytes received so far; call again with more bytes while it says incomplete. */
export function scanHead(bytes: Buffer, maxSize = UPSTREAM_MAX_HEADER_SIZE): HeadScan {
  const prefix = Math.min(bytes.length, PREFIX.length);
  if (bytes.compare(PREFIX, 0, prefix, 0, prefix) !== 0) return { kind: 'not-http' };
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const lf = bytes.indexOf(LF, start);
    if (lf === -1)
      return bytes.length > maxSize ? { kind: 'too-large', size: bytes.length } : { kind: 'incomplete' };
    if (lf + 1 > maxSize) return { kind: 'too-large', size: lf + 1 };
    const line = bytes.toString('latin1', start, lf);
    if (bytes[lf - 1] !== CR) return { kind: 'invalid', reason: 'a line ends in LF without CR', line };
    const text = line.slice(0, -1);
    start = lf + 1;
    if (text === '' && lines.length > 0) return parseLines(lines, start);
    if (text === '') return { kind: 'invalid', reason: 'an empty line before the status line', line: text };
    lines.push(text);
  }
}

function parseLines(lines: readonly string[], size: number): HeadScan {
  const [statusLine, ...fields] = lines;
  const status = STATUS_LINE.exec(statusLine);
  if (!status) return { kind: 'invalid', reason: 'the status line is not HTTP/1.x', line: statusLine };
  if (status[1] !== '1' || (status[2] !== '0' && status[2] !== '1'))
    return {
      kind: 'invalid',
      reason: `unsupported HTTP version ${status[1]}.${status[2]}`,
      line: statusLine,
    };
  const headers: Array<readonly [string, string]> = [];
  for (const line of fields) {
    if (line.startsWith(' ') || line.startsWith('\t'))
      return {
        kind: 'invalid',
        reason: 'obsolete line folding (a header line starts with whitespace)',
        line,
      };
    const colon = line.indexOf(':');
    if (colon === -1) return { kind: 'invalid', reason: 'a header line without a colon', line };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'invalid', reason: `invalid header name "${name}"`, line };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (BAD_VALUE_CHAR.test(value))
      return {
        kind: 'invalid',
        reason: `a control character (bare CR, NUL...) in the value of ${name}`,
        line,
      };
    headers.push([name, value]);
  }
  return {
    kind: 'head',
    size,
    head: {
      statusLine,
      httpVersion: status[2] === '0' ? '1.0' : '1.1',
      status: Number(status[3]),
      reason: status[4] ?? '',
      headers,
    },
  };
}

/** Every value of one field (names compared case-insensitively). */
export function fieldValues(head: ResponseHead, lowerName: string): string[] {
  const values: string[] = [];
  for (const [name, value] of head.headers) if (name.toLowerCase() === lowerName) values.push(value);
  return values;
}
