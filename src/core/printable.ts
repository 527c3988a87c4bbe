/**
 * Text that came from outside (a log line, a server's banner, a header value) made safe to
 * print where a person reads it. A terminal obeys the control characters in what it prints:
 * ESC and CSI start sequences that move the cursor, rewrite lines, set the window title or
 * the clipboard, so a log line or a banner could rewrite what the operator sees. Each control
 * character (C0 but the newline, DEL, C1), each bidirectional override and U+2028/2029 (where a
 * viewer, and JavaScript, breaks a line: a line of the text's own choosing) is written as an
 * escape instead (`\x1b`, `\u202e`, `\u2028`); printable text passes unchanged. One pass over the text,
 * no backtracking: linear in its length.
 */

const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_AND_NEWLINE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
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

/**
 * JSON text as strict readers take it (a log line, a command's `--json`): printableJson's, and
 * half a surrogate pair, which JSON.stringify writes as an escape (`\ud83d`: a whole pair it
 * writes raw, so any such escape is a lone half), as U+FFFD, what a UTF-8 encoder makes of one. RFC 8259 §8.2 leaves such a string's reading
 * unpredictable and I-JSON (RFC 7493) rules it out: strict readers (Rust's serde_json, so
 * Vector's parse_json) refuse the whole line. Text cut at a length halves the pair of an emoji at
 * the cut (an OpenID provider's error_description, cut at 200 units).
 */
export function strictJson(json: string): string {
  const printed = printableJson(json);
  return printed.includes('\\ud') ? printed.replace(LONE_SURROGATE_ESCAPE, '$1\\ufffd') : printed;
}

/** `\udXXX` of a surrogate, the backslash its own (after an even run of backslashes, or none). */
const LONE_SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/** One function for every call (the access line runs printableJson on a value JSON escapes). */
const jsonEscaped = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
