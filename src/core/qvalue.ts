/**
 * The weight a client gives a member of Accept or Accept-Encoding (RFC 9110 §12.4.2). Here, in
 * core, so the content coding and the error body's format are weighed by one rule.
 */

// Anchored at both ends, the OWS around the value (SP and HTAB only, as ows.ts's) costs one pass
// over a run of spaces, never one per space.
const QVALUE = /^[ \t]*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)[ \t]*$/;

/**
 * A qvalue's weight (`0`, `0.` and up to three digits, `1`, `1.` and up to three zeros), or 0
 * for one that is not: `q=2`, `q=1.5`, `q=abc`, `q=0x1` refuse their member rather than be read
 * at a weight guessed for them (they were read as 1, the best there is). Whoever asks has a
 * safe answer to fall back on: identity for a coding, plain text for an error body.
 */
export function qvalue(text: string | undefined): number {
  const match = text === undefined ? null : QVALUE.exec(text);
  return match === null ? 0 : Number(match[1]);
}
