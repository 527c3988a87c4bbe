/**
 * Parsers for the few policy values that are strings with a grammar of their own:
 * health-check status ranges, rate-limit keys, a JWT's `typ`.
 */
import type { Parsed } from './addresses.ts';

/** "200-399" or "200-299, 304": inclusive ranges of statuses. */
export function parseStatusRanges(text: string): Parsed<[number, number][]> {
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([1-5][0-9]{2})\s*(?:-\s*([1-5][0-9]{2})\s*)?$/.exec(part);
    if (!m) return { problem: `expected statuses like 200-399 or "200-299, 304", got "${text}"` };
    const low = Number(m[1]);
    const high = Number(m[2] ?? m[1]);
    if (high < low) return { problem: `the range ${low}-${high} is empty` };
    // A probe's verdict is read from its final status: an interim 1xx is read past, a 101 is a
    // protocol error (no upgrade was asked). A range of 1xx alone never matched, and a config
    // of "100-199" loaded and kept every target down, out of rotation, for good.
    if (high < 200)
      return {
        problem: `the range ${m[2] === undefined ? low : `${low}-${high}`} matches no probe's answer: a probe ends on a final status, 200 to 599 (an interim 1xx is read past)`,
      };
    ranges.push([low, high]);
  }
  return { value: ranges };
}

type RateKey =
  | { readonly kind: 'client' }
  | { readonly kind: 'identity' }
  | { readonly kind: 'header'; readonly name: string };

/** "client" (the client address), "identity" (the user the route's auth admitted) or "header:X-Api-Key" (that header's value). */
export function parseRateKey(text: string): Parsed<RateKey> {
  if (text === 'client') return { value: { kind: 'client' } };
  if (text === 'identity') return { value: { kind: 'identity' } };
  const m = /^header:([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.exec(text);
  if (m) return { value: { kind: 'header', name: m[1].toLowerCase() } };
  return { problem: `expected client, identity or header:NAME (e.g. header:X-Api-Key), got "${text}"` };
}

/**
 * A JOSE header's `typ` as RFC 7515 §4.1.9 compares it: media types are case-insensitive, and
 * one without a `/` is `application/` and it (as jose's jwtVerify reads its `typ` option). The
 * config's `auth.jwt.types` and a token's header are both written so before they are compared.
 */
export function normalTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}
