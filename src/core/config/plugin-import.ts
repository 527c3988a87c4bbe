/**
 * How a plugin's module is imported (plugin-modules.ts): anew when its file changed, within a
 * deadline, and a JavaScript syntax error placed at its file and line.
 *
 * Node keeps every ES module it imported, by its URL, for the life of the process, and has no way
 * to drop one: a second `import()` of the same URL gives the first one's exports whatever the file
 * says now, so a reload would run the old code and call it new. The URL of a module file carries
 * the hash of its content as its query instead: an unchanged file is the same URL (imported once,
 * however many reloads), an edited one is a new URL, imported anew. Each version imported stays
 * in memory for the life of the worker. What the module itself imports (a helper file beside it,
 * a package) is Node's as usual: the same URL each time, kept from its first import.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How long a module's top-level code may take: it runs once a load, and a top-level `await` that
 * never settles would hold `candor check`, a start or a reload for ever.
 */
export const MODULE_IMPORT_MS = 5000;

/** Node's cache of CommonJS modules by their file (one for the process, whichever require reads it). */
const requireCache = createRequire(import.meta.url).cache;

/** The query a module file's URL is given: `?v=` and 16 hex digits of its content's SHA-256. */
const VERSION = /\?v=[0-9a-f]{16}/g;

/**
 * The module at `specifier` (a `file:` URL, imported as its content now is; or a name Node
 * resolves), imported within `ms`. A SyntaxError of a JavaScript file comes with its file and
 * line first in its stack, as Node writes them for a TypeScript one.
 *
 * @example await importWithin(pathToFileURL('/etc/candor/tag.mjs').href) // its namespace
 */
export async function importWithin(
  specifier: string,
  ms: number = MODULE_IMPORT_MS,
): Promise<Record<string, unknown>> {
  const url = await versioned(specifier);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `its top-level code did not finish within ${ms} ms (a top-level await that never settles?)`,
          ),
        ),
      ms,
    );
  });
  forgetEarlierVersion(specifier, url);
  try {
    return await Promise.race([import(url), late]);
  } catch (err) {
    throw url.startsWith('file:') ? await placed(err, fileURLToPath(url)) : err;
  } finally {
    clearTimeout(timer);
  }
}

/** The URL each module file was last imported under, by its file: URL without the version. */
const importedAs = new Map<string, string>();

/**
 * A CommonJS file is Node's by its path in require.cache, whatever the URL's query: an edited one
 * imported under its new URL gave the old code's exports again. Its entry is dropped when the file
 * comes under a new URL (the versions imported before keep theirs: their URLs are in Node's ES
 * module map), never for one imported as it was (what the module's own code requires of it stays one).
 */
function forgetEarlierVersion(specifier: string, url: string): void {
  if (!specifier.startsWith('file:')) return;
  const before = importedAs.get(specifier);
  importedAs.set(specifier, url);
  if (before !== undefined && before !== url) delete requireCache[fileURLToPath(specifier)];
}

/** `text` (an error's message) without the version queries of module URLs: the file as its author knows it. */
export function withoutVersion(text: string): string {
  return text.replace(VERSION, '');
}

/** A `file:` URL with its content's hash as its query; a file that cannot be read is left to import() to report. */
async function versioned(specifier: string): Promise<string> {
  if (!specifier.startsWith('file:')) return specifier;
  let content: Buffer;
  try {
    content = await readFile(fileURLToPath(specifier));
  } catch {
    return specifier;
  }
  return `${specifier}?v=${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
}

/** A file and line alone on a line, as Node writes the place of a syntax error ("/path/x.ts:3"). */
export const SYNTAX_PLACE = /^((?:file:\/\/|\/)\S+:\d+)$/m;

/**
 * A SyntaxError of a JavaScript module with its place first in its stack. Node keeps the place of
 * an ES module's syntax error to itself (it prints it only when the error is uncaught), so it is
 * asked of `node --check FILE`, which prints it first: a process, only for a module that does not
 * load. The error may be in a file the module imports (a helper beside it): those its text names
 * by a relative specifier are checked too, in the order they are found, and the first whose check
 * fails is the place. Nothing is run to find them (a module's top-level code runs once, in the
 * gateway). An error that is no syntax error, or one Node placed (a TypeScript file's), is
 * returned as it is.
 */
async function placed(err: unknown, file: string): Promise<unknown> {
  if (!(err instanceof SyntaxError) || SYNTAX_PLACE.test(err.stack ?? '')) return err;
  const place = await placeInImports(file);
  if (place !== undefined) err.stack = `${place}\n${err.stack}`;
  return err;
}

/** JavaScript files, which `node --check` reads (a TypeScript one's syntax errors come placed). */
const CHECKED = ['.js', '.mjs', '.cjs'];
/** How many files of a module's imports are looked at, at most. */
const IMPORTS_LOOKED_AT = 50;
/** `import … from './x.mjs'`, `import './x.mjs'`, `export … from './x.mjs'`: a relative specifier. */
const RELATIVE_IMPORT = /\b(?:import|export)\s*(?:[\w*{}\s,$]+\sfrom\s*)?['"](\.{1,2}\/[^'"\n]+)['"]/g;

/** The place of the first syntax error in `file` or the files it imports, breadth first. */
async function placeInImports(file: string): Promise<string | undefined> {
  const seen = new Set<string>();
  const queue = [file];
  while (queue.length > 0 && seen.size < IMPORTS_LOOKED_AT) {
    const next = queue.shift() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    if (CHECKED.includes(extname(next))) {
      const place = await syntaxPlace(next);
      if (place !== undefined) return place;
    }
    let text: string;
    try {
      text = await readFile(next, 'utf8');
    } catch {
      continue;
    }
    for (const [, specifier] of text.matchAll(RELATIVE_IMPORT)) queue.push(resolve(dirname(next), specifier));
  }
  return undefined;
}

/** `node --check FILE`'s place of its syntax error, or undefined when it parses. */
function syntaxPlace(file: string): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--check', file],
      { timeout: MODULE_IMPORT_MS, maxBuffer: 64 * 1024 },
      (_failed, _stdout, stderr) => done(SYNTAX_PLACE.exec(String(stderr).split('\n')[0])?.[1]),
    );
  });
}
