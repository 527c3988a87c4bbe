/**
 * The backstop of a failure answer's body (error-body.ts): what no body may carry raw, whichever
 * place quoted another party's words (an upstream's certificate names or reason phrase, an OpenID
 * provider's error code, a Redis reply). Here, not in core/printable.ts: a peer of this layer.
 */

/**
 * What a text body (text/plain, HTML) may not carry raw: control characters but tab and newline
 * (a carriage return rewrites a terminal's line, ESC and C1's CSI start sequences it obeys), DEL,
 * bidi overrides (which reorder what is read), U+2028/2029 (where a viewer breaks a line), and
 * half a surrogate pair (no character). A whole pair is matched first, so that it passes unchanged.
 */
const TEXT_UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;
const TEXT_UNSAFE_ALL =
  /[\ud800-\udbff][\udc00-\udfff]|[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/g;

const textEscaped = (match: string): string => {
  if (match.length === 2) return match;
  const code = match.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
};

/**
 * A text body (or a value placed in one) with those characters written as escapes (`\x1b`,
 * `\u2028`), half a surrogate pair as U+FFFD (what a UTF-8 encoder writes for it). The common
 * case, none of them, returns the text itself after one scan: no copy.
 */
export function bodyText(text: string): string {
  return TEXT_UNSAFE.test(text) ? text.replace(TEXT_UNSAFE_ALL, textEscaped) : text;
}

/** What JSON.stringify leaves raw (it escapes only U+0000–U+001F) that a reader obeys or breaks a line at. */
const JSON_UNSAFE = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\\ud[89a-f]/i;
const JSON_RAW_ALL = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** `\udXXX`, the backslash its own (after an even run of backslashes): JSON.stringify's escape of half a pair. */
const LONE_HALF_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/**
 * JSON text (JSON.stringify's) with DEL, C1, bidi overrides and U+2028/2029 as `\u` escapes, and
 * the escape of half a surrogate pair (`\ud83d`: a whole pair is written raw) as `\ufffd`: RFC 8259
 * §8.2 leaves such a string's reading unpredictable, and strict readers refuse the whole body.
 * Still the same JSON otherwise; none of them, the text itself.
 */
export function bodyJson(json: string): string {
  if (!JSON_UNSAFE.test(json)) return json;
  return json
    .replace(JSON_RAW_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(LONE_HALF_ESCAPE, '$1\\ufffd');
}
