import { trimOws } from '../ows.ts';
import { qvalue } from '../qvalue.ts';

/** Which error body a client gets, from its Accept header (RFC 9110 §12.5.1). */
export type ErrorFormat = 'problem+json' | 'html' | 'text';

interface Candidate {
  readonly format: ErrorFormat;
  /** The media types (type/subtype) this format answers to; the first is the one its body is sent as. */
  readonly media: readonly string[];
}

// Order is the tie-break between ranges of one specificity. A wildcard's (Accept: */*, or no
// Accept at all): plain text is the least surprising answer for curl and scripts, and
// `application/*` means an API client more likely than an XHTML reader. Types named themselves:
// a client that names JSON or HTML reads it, and plain text is for those that named no better
// (`application/json, text/plain, */*` is axios's and Angular's default: an API client's).
const CANDIDATES: readonly Candidate[] = [
  { format: 'text', media: ['text/plain'] },
  { format: 'problem+json', media: ['application/problem+json', 'application/json'] },
  // XHTML is application/xhtml+xml (RFC 3236): the page is served as text/html, which every
  // client that reads XHTML reads too.
  { format: 'html', media: ['text/html', 'application/xhtml+xml'] },
];
const NAMED_ORDER: readonly ErrorFormat[] = ['problem+json', 'html', 'text'];

/** A range that names the media type itself (not a wildcard) is this specific. */
const NAMED = 2;

export function negotiateErrorFormat(accept: string | undefined): ErrorFormat {
  if (!accept) return 'text';
  const ranges = mediaRanges(accept);
  let best: ErrorFormat = 'text';
  let bestQ = -1;
  let bestSpecificity = -1;
  for (const candidate of CANDIDATES) {
    const [q, specificity] = qualityFor(candidate, ranges);
    const tieWon = specificity === NAMED && NAMED_ORDER.indexOf(candidate.format) < NAMED_ORDER.indexOf(best);
    if (
      q > bestQ ||
      (q === bestQ && (specificity > bestSpecificity || (specificity === bestSpecificity && tieWon)))
    ) {
      best = candidate.format;
      bestQ = q;
      bestSpecificity = specificity;
    }
  }
  return bestQ > 0 ? best : 'text';
}

/**
 * Whether Accept names `media` (a type/subtype, lower case) itself with a weight above 0: a
 * `text/html;q=0` says HTML is not acceptable (RFC 9110 §12.4.2), and a wildcard names no type.
 */
export function namesAcceptable(accept: string, media: string): boolean {
  const [q, specificity] = qualityOf(media, mediaRanges(accept));
  return specificity === NAMED && q > 0;
}

/**
 * The candidate's q-value and its specificity. Each media type is weighed alone (RFC 9110
 * §12.5.1: by the most specific range that matches it; mixed, `application/problem+json,
 * application/json;q=0.5` gave problem+json the alias's 0.5). The type the body is sent as,
 * named itself, has the last word (`;q=0` on it refuses the format whatever an alias says);
 * otherwise the best of them stands.
 */
function qualityFor(candidate: Candidate, ranges: readonly MediaRange[]): [number, number] {
  let best = qualityOf(candidate.media[0], ranges);
  if (best[1] === NAMED) return best;
  for (const media of candidate.media.slice(1)) {
    const [q, specificity] = qualityOf(media, ranges);
    if (q > best[0] || (q === best[0] && specificity > best[1])) best = [q, specificity];
  }
  return best;
}

/** One member of Accept: its media range, lower-cased, and its weight. */
interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

/**
 * Accept's members, split on the commas and semicolons outside quoted strings (RFC 9110 §5.6.4,
 * §5.6.6: a parameter's value may be one, `;profile="a,b"`): split on every comma,
 * `text/html;profile="a,b";q=0` lost its q=0 and HTML was sent, refused; and a `q=0` inside a
 * quoted value refused its range. One pass over the field, a quote never closed holding the rest.
 */
function mediaRanges(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  let parts: string[] = [];
  let start = 0;
  let quoted = false;
  const endPart = (at: number) => {
    parts.push(accept.slice(start, at));
    start = at + 1;
  };
  const endRange = () => {
    const [mediaRange = '', ...params] = parts;
    const [type = '', subtype = ''] = trimOws(mediaRange).toLowerCase().split('/');
    let q = 1;
    for (const param of params) {
      const equals = param.indexOf('=');
      // A q that is no qvalue refuses the range, as it refuses a coding (qvalue()).
      if (equals >= 0 && trimOws(param.slice(0, equals)).toLowerCase() === 'q')
        q = qvalue(param.slice(equals + 1));
    }
    ranges.push({ type, subtype, q });
    parts = [];
  };
  for (let i = 0; i < accept.length; i++) {
    const c = accept.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c)
        i++; // a quoted-pair: the next character is data
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3b)
      endPart(i); // ';'
    else if (c === 0x2c) {
      // ','
      endPart(i);
      endRange();
    }
  }
  endPart(accept.length);
  endRange();
  return ranges;
}

/** The q-value of the most specific media range matching `target` (type/subtype), and that specificity. */
function qualityOf(target: string, ranges: readonly MediaRange[]): [number, number] {
  let q = 0;
  let specificity = -1;
  for (const range of ranges) {
    let matched: number;
    if (range.type === '*' && range.subtype === '*') matched = 0;
    else if (range.subtype === '*' && target.startsWith(`${range.type}/`)) matched = 1;
    else if (`${range.type}/${range.subtype}` === target) matched = NAMED;
    else continue;
    if (matched < specificity) continue;
    specificity = matched;
    q = range.q;
  }
  return [q, specificity];
}
