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
  let best: ErrorFormat = 'text';
  let bestQ = -1;
  let bestSpecificity = -1;
  for (const candidate of CANDIDATES) {
    const [q, specificity] = qualityFor(candidate, accept);
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
 * The candidate's q-value and its specificity. Each media type is weighed alone (RFC 9110
 * §12.5.1: by the most specific range that matches it; mixed, `application/problem+json,
 * application/json;q=0.5` gave problem+json the alias's 0.5). The type the body is sent as,
 * named itself, has the last word (`;q=0` on it refuses the format whatever an alias says);
 * otherwise the best of them stands.
 */
function qualityFor(candidate: Candidate, accept: string): [number, number] {
  let best = qualityOf(candidate.media[0], accept);
  if (best[1] === NAMED) return best;
  for (const media of candidate.media.slice(1)) {
    const [q, specificity] = qualityOf(media, accept);
    if (q > best[0] || (q === best[0] && specificity > best[1])) best = [q, specificity];
  }
  return best;
}

/** The q-value of the most specific media range matching `target` (type/subtype), and that specificity. */
function qualityOf(target: string, accept: string): [number, number] {
  let q = 0;
  let specificity = -1;
  for (const range of accept.split(',')) {
    const [mediaRange, ...params] = range.split(';');
    const media = trimOws(mediaRange).toLowerCase();
    const [type = '', subtype = ''] = media.split('/');
    let matched: number;
    if (type === '*' && subtype === '*') matched = 0;
    else if (subtype === '*' && target.startsWith(`${type}/`)) matched = 1;
    else if (media === target) matched = NAMED;
    else continue;
    if (matched < specificity) continue;
    let rangeQ = 1;
    for (const param of params) {
      const [name = '', value] = param.split('=');
      // A q that is no qvalue refuses the range, as it refuses a coding (qvalue()).
      if (trimOws(name).toLowerCase() === 'q') rangeQ = qvalue(value);
    }
    specificity = matched;
    q = rangeQ;
  }
  return [q, specificity];
}
