/**
 * Suggestions for typos in names: a config's fields and upstreams ("timeout" → "timeouts"), and
 * candor/client's options (so the kit, which holds nothing of the config, has it too).
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
