/**
 * A plugin named by a package (`module: '@team/plugin'`, `module: 'pkg/sub'`) that only an import
 * resolves: its `exports` name a file under `import` (or `node`, `module-sync`) and no `require`
 * or `default`, so `require.resolve` from the config's folder, which plugin-modules.ts asks first,
 * does not find it. Node's import lookup cannot be asked from another folder than the importing
 * module's (`import.meta.resolve`'s parent is behind a flag), and from Candor's own module it finds
 * only the packages beside Candor: not the config's, where Candor is installed elsewhere (globally,
 * in an image's /usr/lib/node_modules). So the package is found from the config's folder as Node
 * finds it (`findPackageJSON`), and its `exports` read for an import, as Node's resolver reads them
 * (ESM spec, PACKAGE_EXPORTS_RESOLVE): conditions in the object's own order, `*` patterns, the
 * first usable entry of an array.
 */
import { readFileSync } from 'node:fs';
import { findPackageJSON } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The conditions Node's import of a package matches in Candor's process. */
const CONDITIONS = new Set(['node', 'import', 'module-sync', 'default']);

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
  let exports: unknown;
  try {
    manifest = findPackageJSON(name, pathToFileURL(join(baseDir, 'candor.config')));
    if (manifest === undefined) return undefined;
    exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown }).exports;
  } catch {
    return undefined;
  }
  if (exports === undefined) return undefined;
  const target = targetOf(subpathEntry(exports, subpath));
  // Said as Node says it: the package is there, its exports give an import nothing at this subpath.
  if (target === undefined || !target.startsWith('./'))
    throw new Error(`Package subpath '${subpath}' is not defined by "exports" in ${manifest}`);
  return pathToFileURL(join(dirname(manifest), target)).href;
}

/** The entry of `exports` for `subpath` (its `*` filled in), or undefined. */
function subpathEntry(exports: unknown, subpath: string): unknown {
  const keyed =
    typeof exports === 'object' &&
    exports !== null &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((key) => key.startsWith('.'));
  // A string, an array or an object of conditions is the package's "." alone.
  if (!keyed) return subpath === '.' ? exports : undefined;
  const map = exports as Record<string, unknown>;
  if (Object.hasOwn(map, subpath) && !subpath.includes('*')) return map[subpath];
  // The longest pattern whose prefix and suffix hold the subpath, as Node picks one.
  let best: { key: string; star: string } | undefined;
  for (const key of Object.keys(map)) {
    const at = key.indexOf('*');
    if (at < 0 || key.indexOf('*', at + 1) >= 0) continue;
    const [prefix, suffix] = [key.slice(0, at), key.slice(at + 1)];
    if (subpath.length < key.length - 1 || !subpath.startsWith(prefix) || !subpath.endsWith(suffix)) continue;
    if (best === undefined || prefix.length > best.key.indexOf('*'))
      best = { key, star: subpath.slice(prefix.length, subpath.length - suffix.length) };
  }
  return best === undefined ? undefined : withStar(map[best.key], best.star);
}

/** `entry` with every `*` of its targets replaced by `star`. */
function withStar(entry: unknown, star: string): unknown {
  if (typeof entry === 'string') return entry.replaceAll('*', star);
  if (Array.isArray(entry)) return entry.map((item) => withStar(item, star));
  if (typeof entry === 'object' && entry !== null)
    return Object.fromEntries(Object.entries(entry).map(([key, value]) => [key, withStar(value, star)]));
  return entry;
}

/** The path an entry gives an import: a string, the first condition matched, the first usable of an array. */
function targetOf(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (Array.isArray(entry)) {
    for (const item of entry) {
      const target = targetOf(item);
      if (target !== undefined) return target;
    }
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  for (const [condition, value] of Object.entries(entry)) {
    if (!CONDITIONS.has(condition)) continue;
    const target = targetOf(value);
    if (target !== undefined) return target;
  }
  return undefined;
}
