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

/** An unknown field, and the one meant where one is near (else the fields there are). */
export function unknownFieldMessage(field: string, known: readonly string[]): string {
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
