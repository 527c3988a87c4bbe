/**
 * OWS, the optional whitespace of HTTP field values (RFC 9110 §5.6.3): SP and HTAB, nothing
 * else. Here, below both core/http1 and core/failure, so the parsers and the error answers
 * (Proxy-Status, the Accept a client's error page is negotiated from) trim alike.
 */

/** OWS: SP or HTAB (RFC 9110 §5.6.3). */
export const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

/** A value that starts or ends with OWS: one HTTP/2 makes malformed (RFC 9113 §8.2.1), and a strict HTTP/1.1 head too. */
export const hasOuterOws = (value: string): boolean =>
  value !== '' && (isOws(value.charCodeAt(0)) || isOws(value.charCodeAt(value.length - 1)));

/**
 * A field value or list member without the SP and HTAB around it, and nothing else
 * (RFC 9110 §5.5, §5.6.3). Never String#trim(): it also strips U+00A0 and the other Unicode
 * spaces, so a latin1 field like `Transfer-Encoding: \xa0chunked\xa0` would read as `chunked`
 * here and as something else at every hop that follows the RFC (llhttp, nginx, HAProxy). A
 * scan, not a regex: `[ \t]+$` is tried from each space of a run that a letter ends, and a
 * client's `Accept` of 32 KiB of spaces held the worker's loop for seconds on every error the
 * gateway answered.
 */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * A list field's value without the OWS and commas it ends in, so that a member this hop adds
 * after it makes no empty one (RFC 9110 §5.6.1: a sender must not): `Vary: a, ` and `a` alike.
 * A scan: a regex backtracks on a run of them.
 */
export function withoutListEnd(value: string): string {
  let end = value.length;
  while (end > 0 && (isOws(value.charCodeAt(end - 1)) || value.charCodeAt(end - 1) === 0x2c)) end--;
  return value.slice(0, end);
}
