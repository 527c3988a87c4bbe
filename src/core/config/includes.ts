/**
 * `include:` other YAML files (globs, relative to the file that includes them) whose `routes`,
 * `upstreams` and `plugins` join the config, as nginx's `include conf.d/*.conf`. Each file is read
 * on its own, so a problem in it names that file, its line and its field (`routes[0].upstream` as
 * that file writes it), never the merged config's place for it. An include holds routes,
 * upstreams, plugins and includes of its own only: listeners, the admin API and the rest of the
 * gateway's singletons are the main file's, and one written in an include is refused at its key.
 */

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { didYouMean } from '../did-you-mean.ts';
import { coerceExpanded } from './coerce.ts';
import { describeValue } from './describe-value.ts';
import type { FromEnvironment, UnsetVariable } from './env.ts';
import { matchesOf } from './include-glob.ts';
import { isModulePath } from './normalize-plugins.ts';
import { isMapping } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import { ConfigSchema, type PathSegment } from './schema.ts';
import { firstUndecodable, NOT_UTF8 } from './utf8.ts';
import { type Position, readYamlSource } from './yaml-source.ts';

/** What an included file may hold. */
const INCLUDABLE = new Set(['routes', 'upstreams', 'plugins', 'include']);

/** A key of an included file that no config has: the includable field meant where one is near. */
function unknownIncludedField(key: string): string {
  const meant = didYouMean(key, [...INCLUDABLE]);
  return meant === undefined
    ? `unknown field '${key}' (an included file holds routes, upstreams, plugins and include only)`
    : `unknown field '${key}' (did you mean '${meant}'?)`;
}
/** The mappings by name an included file adds to: one namespace each, the whole config's. */
const NAMED = {
  upstreams: { noun: 'upstream', one: 'an upstream' },
  plugins: { noun: 'plugin', one: 'a plugin' },
} as const;
type Named = keyof typeof NAMED;
/**
 * Why an included file that holds nothing (empty, every line a comment) is refused rather than
 * read as adding nothing, and what to write instead: a file truncated by a failed write or a
 * template rendered empty would drop its routes without a word, as a glob matching no file would.
 */
const EMPTY_HINT =
  ' (a file emptied by mistake would drop its routes without a word: to keep an include that adds nothing, write `routes: []`)';
/** A config split in a few dozen files is already many; past this, something globbed too wide. */
const MAX_FILES = 256;
/** As load.ts bounds the main file, the included files together. */
const MAX_BYTES = 4 * 1024 * 1024;
const TOO_MANY_BYTES = `the included files are more than ${MAX_BYTES / 1024 / 1024} MiB together: no config is that large`;

/** Where a field of the merged document is written: the file, and the field as that file has it. */
interface Written {
  readonly file: string;
  readonly path: readonly PathSegment[];
  readonly locate: (path: readonly PathSegment[], prefer?: 'value' | 'key') => Position;
}

/** A problem found while including, in the file where it is. */
interface IncludeProblem extends Written {
  readonly message: string;
  readonly at: 'value' | 'key';
}

export interface Included {
  readonly problems: readonly IncludeProblem[];
  /** Where a field of the merged document is written, when an included file writes it. */
  writtenIn(path: readonly PathSegment[]): Written | undefined;
  readonly fromEnvironment: readonly FromEnvironment[];
  /** Each `${NAME}` without a default an included file uses, with its file and field. */
  readonly variables: readonly {
    readonly name: string;
    readonly file: string;
    readonly path: readonly PathSegment[];
  }[];
}

type Locate = Written['locate'];

/**
 * A file on the include chain: its path as named (for messages) and the file it is. A link
 * (conf.d/api.yaml → ../available/api.yaml, as sites-enabled/ is to nginx) is the file it
 * points at: one to a file that includes it is a cycle, two to one file include it twice.
 */
interface Link {
  readonly absolute: string;
  readonly real: string;
}

function linkTo(absolute: string): Link {
  try {
    return { absolute, real: realpathSync(absolute) };
  } catch {
    // Not there, or a dangling link: reading it says so, in its words.
    return { absolute, real: absolute };
  }
}

/**
 * Reads the files `document.include` names (and those they include) and adds their routes and
 * upstreams to `document`, in place: the main file's routes first, then each file's in the
 * order its pattern and the sorted glob give them.
 */
export function applyIncludes(
  document: unknown,
  source: string,
  locate: Locate,
  env: NodeJS.ProcessEnv,
  unset: UnsetVariable,
  valueErrors: readonly { readonly path: readonly PathSegment[] }[] = [],
): Included {
  const inclusion = new Inclusion(source, locate, env, unset);
  if (isMapping(document) && document.include !== undefined)
    inclusion.walk(document, { file: source, value: document, locate, told: patternsTold(valueErrors) }, [
      linkTo(resolve(source)),
    ]);
  return inclusion;
}

/**
 * The include patterns a problem of the file's own is told at (a `${VAR}` not set): the pattern
 * is not what the file meant, and globbing it as written told a second, false problem
 * (`"${CONFD}/*.yaml" matches no file`), or read a folder named `${CONFD}`.
 */
function patternsTold(
  valueErrors: readonly { readonly path: readonly PathSegment[] }[],
): ReadonlySet<number> {
  const told = new Set<number>();
  for (const { path } of valueErrors)
    if (path[0] === 'include' && typeof path[1] === 'number') told.add(path[1]);
  return told;
}

/** A file read: its name as the operator would open it, its value, its locator, the patterns a problem is told at. */
interface Read {
  readonly file: string;
  readonly value: Record<string, unknown>;
  readonly locate: Locate;
  readonly told: ReadonlySet<number>;
}

class Inclusion implements Included {
  readonly problems: IncludeProblem[] = [];
  readonly fromEnvironment: FromEnvironment[] = [];
  readonly variables: { name: string; file: string; path: readonly PathSegment[] }[] = [];
  readonly #routeAt = new Map<number, Written>();
  /** Where each upstream and plugin an included file defines is written, by name. */
  readonly #namedAt: Record<Named, Map<string, Written>> = { upstreams: new Map(), plugins: new Map() };
  /** Each file included so far (its real path) → the file that included it, and the name it gave it. */
  readonly #files = new Map<string, { readonly by: string; readonly as: string }>();
  #bytes = 0;
  readonly #source: string;
  /** Where the main file writes a field: the line of an upstream or plugin an included file defines again. */
  readonly #locate: Locate;
  readonly #env: NodeJS.ProcessEnv;
  readonly #unset: UnsetVariable;

  constructor(source: string, locate: Locate, env: NodeJS.ProcessEnv, unset: UnsetVariable) {
    this.#source = source;
    this.#locate = locate;
    this.#env = env;
    this.#unset = unset;
  }

  writtenIn(path: readonly PathSegment[]): Written | undefined {
    const at =
      path[0] === 'routes' && typeof path[1] === 'number'
        ? this.#routeAt.get(path[1])
        : (path[0] === 'upstreams' || path[0] === 'plugins') && typeof path[1] === 'string'
          ? this.#namedAt[path[0]].get(path[1])
          : undefined;
    return at === undefined ? undefined : { ...at, path: [...at.path, ...path.slice(2)] };
  }

  /** Includes what `from` names into `document`; `chain` is the files that led here. */
  walk(document: Record<string, unknown>, from: Read, chain: readonly Link[]): void {
    const patterns = from.value.include;
    if (patterns === undefined) return;
    if (!Array.isArray(patterns)) {
      this.#problem(
        from,
        ['include'],
        `expected a list of file names or globs, relative to this file, got ${describeValue(patterns)}`,
      );
      return;
    }
    patterns.forEach((pattern, index) => {
      if (from.told.has(index)) return;
      if (typeof pattern !== 'string' || pattern === '') {
        this.#problem(
          from,
          ['include', index],
          `expected a file name or glob, relative to this file, got ${describeValue(pattern)}`,
        );
        return;
      }
      // A config given as text ("<demo>") has no folder: its includes are the working directory's.
      const dir = /^<.*>$/.test(from.file) ? process.cwd() : dirname(resolve(from.file));
      const found = matchesOf(pattern, dir);
      if ('refused' in found) {
        this.#problem(from, ['include', index], found.refused);
        return;
      }
      const { matches } = found;
      if (matches.length === 0)
        this.#problem(
          from,
          ['include', index],
          `"${pattern}" matches no file${isAbsolute(pattern) ? '' : ` in ${dir}`}: an include that finds nothing is a mistake (a moved folder, a typo), not an empty list`,
        );
      for (const match of matches) {
        // Named as the operator would open it: beside the including file as they named that one.
        const named = isAbsolute(pattern) ? match : join(dirname(from.file), match);
        const absolute = resolve(dir, match);
        const link = linkTo(absolute);
        const refused = this.#refusal(named, link, chain);
        if (refused !== undefined) {
          this.#problem(from, ['include', index], refused);
          continue;
        }
        this.#files.set(link.real, { by: from.file, as: named });
        const read = readIncluded(named, absolute, this.#env, this.#unset);
        if ('reason' in read) {
          this.#problem(from, ['include', index], `cannot read ${named}: ${read.reason}`);
          continue;
        }
        this.#bytes += read.bytes;
        // The file that passes the bound is refused too: looked at only before each read, the
        // bound let the last file read take the whole past it (two files of 3 MiB loaded).
        if (this.#bytes > MAX_BYTES) {
          this.#problem(from, ['include', index], TOO_MANY_BYTES);
          continue;
        }
        this.problems.push(...read.problems);
        this.fromEnvironment.push(...read.fromEnvironment);
        this.variables.push(...read.variables);
        if (read.value === undefined) continue;
        const file = { file: named, value: read.value, locate: read.locate, told: read.told };
        this.#merge(document, file);
        this.walk(document, file, [...chain, link]);
      }
    });
  }

  /** Why the file `link` names may not be included here, if it may not. */
  #refusal(named: string, link: Link, chain: readonly Link[]): string | undefined {
    const linked = link.real === link.absolute ? named : `${named} (a link to ${link.real})`;
    if (chain.some((file) => file.real === link.real))
      return `${linked} includes itself (${[...chain, link].map((f) => basename(f.absolute)).join(' → ')}): an include may not come back to a file that includes it`;
    const first = this.#files.get(link.real);
    if (first !== undefined) {
      const as = first.as === named ? '' : ` as ${first.as}`;
      return `${linked} is included already (by ${first.by}${as}): a file is included once, or its routes would be there twice`;
    }
    if (this.#files.size >= MAX_FILES) return `more than ${MAX_FILES} included files: a glob too wide?`;
    if (this.#bytes > MAX_BYTES) return TOO_MANY_BYTES;
    return undefined;
  }

  /** Adds the routes, upstreams and plugins of `from` to `document`, keeping where each is written. */
  #merge(document: Record<string, unknown>, from: Read): void {
    for (const key of Object.keys(from.value))
      if (!INCLUDABLE.has(key))
        this.#problem(
          from,
          [key],
          // A key no config has (a typo, `route:` for `routes:`) is unknown here as in the main
          // file: "route is the main file's" sent the reader there, where it is unknown too.
          Object.hasOwn(ConfigSchema.properties, key)
            ? `an included file holds routes, upstreams, plugins and include only: ${key} is the main file's (${this.#source})`
            : unknownIncludedField(key),
          'key',
        );
    const { routes } = from.value;
    // Not a list (a `-` forgotten, a mapping, null): refused at its place, as in the main file,
    // never its routes left out without a word.
    if (routes !== undefined && !Array.isArray(routes))
      this.#problem(from, ['routes'], `expected a list of routes, got ${describeValue(routes)}`);
    if (Array.isArray(routes)) {
      if (!Array.isArray(document.routes)) document.routes = [];
      const all = document.routes as unknown[];
      routes.forEach((route, index) => {
        this.#routeAt.set(all.length, { file: from.file, path: ['routes', index], locate: from.locate });
        all.push(route);
      });
    }
    this.#mergeNamed(document, from, 'upstreams');
    this.#mergeNamed(document, from, 'plugins');
  }

  /** Adds the upstreams (or plugins) of `from` to `document`'s: a name written in two files is refused in the later. */
  #mergeNamed(document: Record<string, unknown>, from: Read, key: Named): void {
    const named = from.value[key];
    const { noun, one } = NAMED[key];
    if (named === undefined) return;
    if (!isMapping(named)) {
      this.#problem(from, [key], `expected a mapping of ${key}, by name, got ${describeValue(named)}`);
      return;
    }
    if (!isMapping(document[key])) document[key] = Object.create(null);
    const all = document[key] as Record<string, unknown>;
    const at = this.#namedAt[key];
    for (const [name, value] of Object.entries(named)) {
      // The other file and its line: a reader of the later file is sent to the one to keep.
      const first = at.get(name) ?? (name in all ? { file: this.#source, locate: this.#locate } : undefined);
      if (first !== undefined) {
        const { line } = first.locate([key, name], 'key');
        this.#problem(
          from,
          [key, name],
          `${noun} '${name}' is defined in ${first.file} too, at line ${line}: ${one} has one name in the whole config`,
          'key',
        );
        continue;
      }
      at.set(name, { file: from.file, path: [key, name], locate: from.locate });
      all[name] = key === 'plugins' ? besideItsFile(value, from.file) : value;
    }
  }

  #problem(from: Read, path: PathSegment[], message: string, at: 'value' | 'key' = 'value'): void {
    this.problems.push({ file: from.file, path, locate: from.locate, at, message });
  }
}

/**
 * A plugin as an included file writes it, its module path taken from that file's folder (a
 * team's folder ships its plugin beside its routes): made absolute here, where the file is known,
 * and so taken as it is when the config is built (normalize-plugins.ts).
 */
function besideItsFile(plugin: unknown, file: string): unknown {
  if (!isMapping(plugin) || typeof plugin.module !== 'string' || !isModulePath(plugin.module)) return plugin;
  // A mapping as the YAML reader makes them (no prototype: a `constructor` key is a key).
  return Object.assign(Object.create(null), plugin, {
    module: resolve(dirname(resolve(file)), plugin.module),
  });
}

function readIncluded(named: string, absolute: string, env: NodeJS.ProcessEnv, unset: UnsetVariable) {
  let bytes: Buffer;
  try {
    if (!statSync(absolute).isFile()) return { reason: 'not a file' };
    if (statSync(absolute).size > MAX_BYTES)
      return { reason: `more than ${MAX_BYTES / 1024 / 1024} MiB: no config is that large` };
    bytes = readFileSync(absolute);
  } catch (error) {
    return { reason: readErrorReason(error) };
  }
  const text = bytes.toString('utf8');
  const yaml = readYamlSource(text, env, coerceExpanded, unset);
  const locate: Locate = (path, prefer) => yaml.locate(path, prefer);
  // An included file saved as Latin-1 is refused as the main file is (load.ts), and first, so
  // that its field's own check, which would quote the U+FFFD, does not speak for it.
  const undecodable = firstUndecodable(bytes, text);
  const notUtf8: IncludeProblem[] =
    undecodable === undefined
      ? []
      : [
          {
            file: named,
            path: yaml.fieldAt(undecodable.offset),
            locate: () => yaml.positionAt(undecodable.offset),
            at: 'value',
            message: NOT_UTF8(undecodable.byte),
          },
        ];
  const problems: IncludeProblem[] = [
    ...notUtf8,
    ...[...yaml.syntaxErrors, ...yaml.valueErrors].map((issue) => ({
      file: named,
      path: issue.path,
      locate: () => issue.position,
      at: 'value' as const,
      message: issue.message,
    })),
  ];
  const variables = yaml.variables.map(({ name, path }) => ({ name, file: named, path }));
  const value = yaml.syntaxErrors.length === 0 && isMapping(yaml.value) ? yaml.value : undefined;
  if (yaml.syntaxErrors.length === 0 && value === undefined)
    problems.push({
      file: named,
      path: [],
      locate,
      at: 'value',
      message: `expected a mapping with routes, upstreams and/or plugins, got ${describeValue(yaml.value)}${
        yaml.value === null || yaml.value === undefined ? EMPTY_HINT : ''
      }`,
    });
  const told = patternsTold(yaml.valueErrors);
  return {
    value,
    locate,
    problems,
    fromEnvironment: yaml.fromEnvironment,
    variables,
    bytes: bytes.length,
    told,
  };
}
