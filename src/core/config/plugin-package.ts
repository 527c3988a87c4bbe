/**
 * A plugin named by a package (`module: '@team/plugin'`, `module: 'pkg/sub'`) that only an import
 * resolves: its `exports` name a file under `import` (or `node`, `module-sync`) and no `require`
 * or `default`, so `require.resolve` from the config's folder, which plugin-modules.ts asks first,
 * does not find it. Node's import lookup cannot be asked from another folder than the importing
 * module's (`import.meta.resolve`'s parent is behind a flag), and from Candor's own module it finds
 * only the packages beside Candor: not the config's, where Candor is installed elsewhere (globally,
 * in an image's /usr/lib/node_modules). So the package is found from the config's folder as Node
 * finds it (`findPackageJSON`), and its `exports` read for an import by resolve.exports, which
 * reads them as Node's resolver does (conditions in the object's own order, `*` patterns, arrays).
 */
import { readFileSync } from 'node:fs';
import { findPackageJSON } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exports as exportsOf } from 'resolve.exports';

/**
 * The file: URL `specifier` names for an import from `baseDir`, read from its package's `exports`;
 * undefined when no package is there or it has no `exports` (the caller then leaves it to Node's
 * own lookup, whose error names the package). Throws when its `exports` give this subpath nothing.
 */
export function importedPackageFile(specifier: string, baseDir: string): string | undefined {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLength).join('/');
  const subpath = ['.', ...parts.slice(nameLength)].join('/');
  let manifest: string | undefined;
  let found: { exports?: unknown };
  try {
    manifest = findPackageJSON(name, pathToFileURL(join(baseDir, 'candor.config')));
    if (manifest === undefined) return undefined;
    found = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown };
  } catch {
    return undefined;
  }
  if (found.exports === undefined) return undefined;
  // An import's conditions in Candor's process: node, import, module-sync, default (resolve.exports
  // adds node, import and default itself), matched in the package's own key order.
  let targets: readonly string[] | undefined;
  try {
    targets = exportsOf({ ...found, name }, subpath, { conditions: ['module-sync'] }) ?? undefined;
  } catch {
    targets = undefined;
  }
  const target = targets?.find((path) => path.startsWith('./'));
  // Said as Node says it: the package is there, its exports give an import nothing at this subpath.
  if (target === undefined)
    throw new Error(`Package subpath '${subpath}' is not defined by "exports" in ${manifest}`);
  return pathToFileURL(join(dirname(manifest), target)).href;
}
