import { describeValue } from './describe-value.ts';

/**
 * Control characters an answer's body would carry raw: a terminal showing it (curl, a log
 * viewer) obeys ESC and C1 sequences, a carriage return rewrites the line, a bidirectional
 * override reorders what is read, and NUL ends the text for C readers. Tab and newline are
 * kept: a plain-text or HTML body lays them out, JSON escapes them, Proxy-Status writes them `?`.
 */
const MESSAGE_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why text an operator writes for clients to read (a maintenance message) cannot be sent to
 * them; undefined when it can. The config's format and the admin API's maintenance both ask it:
 * apart from formats.ts, which would load the schema into the primary.
 */
export function messageProblem(text: string): string | undefined {
  // Half a surrogate pair (YAML's "\uD800", JSON's): no character, so the plain-text and HTML
  // bodies carried U+FFFD, and problem+json the escape `\ud800`, which strict readers (Rust's
  // serde_json) refuse with the whole body (RFC 8259 §8.2: such a string's reading is unpredictable).
  const lone = LONE_SURROGATE.exec(text);
  if (lone !== null)
    return `expected a message of whole characters, got half a surrogate pair, U+${lone[0].charCodeAt(0).toString(16).toUpperCase()}, at character ${lone.index + 1} of ${describeValue(text)}`;
  const found = MESSAGE_CONTROL.exec(text);
  if (found === null) return undefined;
  const code = found[0].charCodeAt(0).toString(16).padStart(4, '0');
  return `expected a message without control characters but tab and newline (a client's terminal would obey them), got U+${code.toUpperCase()} at character ${found.index + 1} of ${describeValue(text)}`;
}
