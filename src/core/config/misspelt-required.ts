/**
 * A required field misspelt is one mistake, found twice: the schema finds an unknown field (with
 * a did-you-mean) and, at the mapping above it, the field it was meant to be missing. Told both
 * ways, the second points at a line with nothing wrong on it; the did-you-mean says it all.
 */

import type { ConfigProblem } from './config-error.ts';

// With what it holds that shows as nothing said first (`(it holds \u200b, …: did you mean 'routes'?)`).
const MISSPELT = /^unknown field '[^']*' \((?:it holds [^)]*: )?did you mean '([^']*)'\?\)$/;

/** `problems` without each "missing required field" that a did-you-mean beside it names. */
export function withoutMisspeltRequired(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const meant = new Set<string>();
  for (const { file, path, message } of problems) {
    const field = MISSPELT.exec(message)?.[1];
    if (field === undefined) continue;
    const parent = path.slice(0, Math.max(0, path.lastIndexOf('.')));
    meant.add(`${file}\n${parent === '' ? field : `${parent}.${field}`}`);
  }
  return problems.filter(
    ({ file, path, message }) =>
      !(
        message.startsWith(`missing required field '${path.slice(path.lastIndexOf('.') + 1)}'`) &&
        meant.has(`${file}\n${path}`)
      ),
  );
}
