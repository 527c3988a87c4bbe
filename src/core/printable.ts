/**
 * Text that came from outside (a log line, a server's banner, a header value) made safe to
 * print where a person reads it. A terminal obeys the control characters in what it prints:
 * ESC and CSI start sequences that move the cursor, rewrite lines, set the window title or
 * the clipboard, so a log line or a banner could rewrite what the operator sees. Each control
 * character (C0 but the newline, DEL, C1) and each bidirectional override is written as an
 * escape instead (`\x1b`, `\u202e`); printable text passes unchanged. One pass over the text,
 * no backtracking: linear in its length.
 */

const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_AND_NEWLINE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
/**
 * In JSON text: what JSON.stringify leaves raw (it escapes only U+0000–U+001F) that a terminal
 * obeys or a reader takes for a line's end (U+2028, U+2029: JavaScript's line terminators).
 */
const JSON_RAW = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (char: string): string => {
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
};

/**
 * `text` with its control characters escaped; newlines kept unless `oneLine`.
 *
 * @example printable('GET /\x1b]0;pwned\x07 HTTP/1.1') // 'GET /\\x1b]0;pwned\\x07 HTTP/1.1'
 */
export function printable(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROLS_AND_NEWLINE : CONTROLS, escaped);
}

/** JSON text (from JSON.stringify) with the characters it leaves raw written as \u escapes: still the same JSON. */
export function printableJson(json: string): string {
  return json.replace(JSON_RAW, jsonEscaped);
}

/** One function for every call (the access line runs printableJson on a value JSON escapes). */
const jsonEscaped = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
