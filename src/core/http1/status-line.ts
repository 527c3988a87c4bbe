/**
 * A response's status line (RFC 9112 §4), as the strict parser (answer-parser.ts) reads it:
 * `HTTP/<digit>.<digit> SP <3 digits> [SP reason]`. One per parser, read again at each head:
 * its fields rather than a result object, so that parsing allocates nothing extra.
 */

import { notHttpDetails } from './answer-faults.ts';
import { IDENTIFY_BYTES } from './impostors.ts';
import { INVALID_VALUE, snippet } from './syntax.ts';

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

export class StatusLine {
  /** 100..599. */
  status = 0;
  /** 0 or 1 (a minor above 1 is read as 1). */
  minor = 1;
  /** The reason phrase, '' when absent. */
  reason = '';

  /**
   * Reads the status line in text[0..end): undefined once its status, minor and reason are
   * set, the protocol error's details when it is refused. `headEnd`: where the bytes of the head
   * end in `text` (what follows them is not the answer's to be named by).
   */
  parse(text: string, end: number, headEnd = text.length): string | undefined {
    if (!text.startsWith('HTTP/'))
      return notHttpDetails(Buffer.from(text.slice(0, Math.min(IDENTIFY_BYTES, headEnd)), 'latin1'));
    if (
      end < 12 ||
      !isDigit(text, 5) ||
      text.charCodeAt(6) !== 0x2e ||
      !isDigit(text, 7) ||
      text.charCodeAt(8) !== 0x20 ||
      !isDigit(text, 9) ||
      !isDigit(text, 10) ||
      !isDigit(text, 11) ||
      (end > 12 && text.charCodeAt(12) !== 0x20)
    ) {
      const line = text.slice(0, end);
      return line.includes('\n')
        ? 'bare LF line ending in the status line'
        : `invalid status line ${snippet(line)}`;
    }
    const major = text.charCodeAt(5) - 0x30;
    const minor = text.charCodeAt(7) - 0x30;
    if (major !== 1) return `unsupported HTTP version "HTTP/${major}.${minor}"`;
    const status =
      (text.charCodeAt(9) - 0x30) * 100 + (text.charCodeAt(10) - 0x30) * 10 + (text.charCodeAt(11) - 0x30);
    if (status < 100 || status > 599) return `status code ${text.slice(9, 12)} out of range`;
    // The commonest reason as the constant it is (as the request line's GET): no string a response.
    const ok = end === 15 && status === 200 && text.startsWith('OK', 13);
    const reason = ok ? 'OK' : end > 13 ? text.slice(13, end) : '';
    // (The constant is known valid: no regex run for it.)
    if (!ok && reason !== '' && INVALID_VALUE.test(reason))
      return reason.includes('\n')
        ? 'bare LF line ending in the status line'
        : 'invalid character in the reason phrase';
    this.status = status;
    this.minor = minor === 0 ? 0 : 1;
    this.reason = reason;
    return undefined;
  }
}
