import { globSync } from 'node:fs';

/**
 * Files and folders an include's glob may look through. A conf.d/ of a few dozen files is a few
 * dozen; a glob from the root (`/`, then `**`) walks the whole disk (minutes on a server with its
 * data mounted, a reload holding the primary all that while), and is no include anyone means.
 */
const MAX_ENTRIES = 10_000;

/**
 * The files `pattern` matches in `dir`, sorted; or why it was not walked to its end.
 *
 * @example matchesOf('conf.d/*.yaml', '/etc/candor') // { matches: ['conf.d/api.yaml'] }
 */
export function matchesOf(pattern: string, dir: string): { matches: string[] } | { refused: string } {
  let looked = 0;
  // The walk asks `exclude` of each entry it meets: refusing every one past the bound ends its descent.
  const matches = globSync(pattern, { cwd: dir, exclude: () => ++looked > MAX_ENTRIES });
  if (looked > MAX_ENTRIES)
    return {
      refused: `"${pattern}" looks through more than ${MAX_ENTRIES} files and folders (a glob from / or too far up?): name the folder the files are in, as conf.d/*.yaml`,
    };
  return { matches: matches.sort() };
}
