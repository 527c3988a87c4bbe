/**
 * Suggestions for typos in names: a config's fields and upstreams ("timeout" → "timeouts"), and
 * the kits' options (candor/client's, candor/app's: they hold nothing of the config, and have it too).
 */

/** The closest of `candidates` to a mistyped `word`, if one is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** What shows as nothing or as a plain space where a field is quoted: the format characters and the spaces but U+0020. */
const UNSEEN = /(?! )[\p{Cf}\p{Z}]/gu;

/** A character as JSON's \u escapes, each UTF-16 unit of it. */
export const unicodeEscape = (char: string): string =>
  Array.from(
    { length: char.length },
    (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`,
  ).join('');

/**
 * An unknown field, and the one meant where one is near (else the fields there are). A field
 * holding a character that shows as nothing or as a space (pasted from a page: a zero-width space,
 * a no-break space after a colon) is quoted with it escaped, and the one meant looked for without
 * it: "unknown field 'routes' (did you mean 'routes'?)" said nothing a reader could act on.
 */
export function unknownFieldMessage(field: string, known: readonly string[]): string {
  const unseen = [...new Set(field.match(UNSEEN) ?? [])];
  if (unseen.length > 0) {
    const plain = field.replace(/\p{Cf}/gu, '').replace(/\p{Z}/gu, ' ');
    const meant = didYouMean(plain, known);
    const hint =
      meant === undefined ? 'write it with plain spaces, or remove it' : `did you mean '${meant}'?`;
    return `unknown field '${field.replace(UNSEEN, unicodeEscape)}' (it holds ${unseen.map(unicodeEscape).join(', ')}, shown as nothing or as a space: ${hint})`;
  }
  const suggestion = didYouMean(field, known);
  const hint =
    suggestion === undefined ? `known fields: ${known.join(', ')}` : `did you mean '${suggestion}'?`;
  return `unknown field '${field}' (${hint})`;
}

/**
 * Refuses an option a kit does not read (candor/client's createFetch, candor/app's createApp):
 * TypeScript catches one, plain JavaScript does not, and a misspelt option was ignored without a
 * word. `advice` gives a name its own words (the client's `retries`); else the near name, or the
 * names there are. `kit` begins the message, `where` names the object (`options.backoff`).
 */
export function refuseUnknownOptions(
  kit: string,
  where: string,
  given: object,
  known: readonly string[],
  advice?: (name: string) => string | undefined,
): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue;
    const near = didYouMean(name, known);
    const hint =
      advice?.(name) ?? (near === undefined ? `it takes ${known.join(', ')}` : `did you mean '${near}'?`);
    throw new TypeError(`${kit}: ${where} has no option '${name}' (${hint})`);
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}
