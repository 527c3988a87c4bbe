/**
 * `include:` other YAML files (globs, relative to the file that includes them) whose `routes` and
 * `upstreams` join the config, as nginx's `include conf.d/*.conf`. Each file is read on its own,
 * so a problem in it names that file, its line and its field (`routes[0].upstream` as that file
 * writes it), never the merged config's place for it. An include holds routes, upstreams and
 * includes of its own only: listeners, the admin API and the rest of the gateway's singletons are
 * the main file's, and one written in an include is refused at its key.
 */

import { globSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { coerceExpanded } from './coerce.ts';
import type { FromEnvironment, UnsetVariable } from './env.ts';
import { isMapping } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { PathSegment } from './schema.ts';
import { type Position, readYamlSource } from './yaml-source.ts';

/** What an included file may hold. */
const INCLUDABLE = new Set(['routes', 'upstreams', 'include']);
/** A config split in a few dozen files is already many; past this, something globbed too wide. */
const MAX_FILES = 256;
/** As load.ts bounds the main file. */
const MAX_BYTES = 4 * 1024 * 1024;

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
): Included {
  const problems: IncludeProblem[] = [];
  const routeAt = new Map<number, Written>();
  const upstreamAt = new Map<string, Written>();
  const fromEnvironment: FromEnvironment[] = [];
  const variables: { name: string; file: string; path: readonly PathSegment[] }[] = [];
  const included = {
    problems,
    fromEnvironment,
    variables,
    writtenIn(path: readonly PathSegment[]): Written | undefined {
      const at =
        path[0] === 'routes' && typeof path[1] === 'number'
          ? routeAt.get(path[1])
          : path[0] === 'upstreams' && typeof path[1] === 'string'
            ? upstreamAt.get(path[1])
            : undefined;
      return at === undefined ? undefined : { ...at, path: [...at.path, ...path.slice(2)] };
    },
  };
  if (!isMapping(document) || document.include === undefined) return included;
  let files = 0;
  const merge = (file: string, value: Record<string, unknown>, fileLocate: Locate) => {
    if (Array.isArray(value.routes)) {
      if (!Array.isArray(document.routes)) document.routes = [];
      const routes = document.routes as unknown[];
      value.routes.forEach((route, index) => {
        routeAt.set(routes.length, { file, path: ['routes', index], locate: fileLocate });
        routes.push(route);
      });
    }
    if (isMapping(value.upstreams)) {
      if (!isMapping(document.upstreams)) document.upstreams = Object.create(null);
      const upstreams = document.upstreams as Record<string, unknown>;
      for (const [name, upstream] of Object.entries(value.upstreams)) {
        const there = upstreamAt.get(name)?.file ?? (name in upstreams ? source : undefined);
        if (there !== undefined) {
          problems.push({
            file,
            path: ['upstreams', name],
            locate: fileLocate,
            at: 'key',
            message: `upstream '${name}' is defined in ${there} too: an upstream has one name in the whole config`,
          });
          continue;
        }
        upstreamAt.set(name, { file, path: ['upstreams', name], locate: fileLocate });
        upstreams[name] = upstream;
      }
    } else if (value.upstreams !== undefined)
      problems.push({
        file,
        path: ['upstreams'],
        locate: fileLocate,
        at: 'value',
        message: 'expected a mapping of upstreams, by name',
      });
  };
  const walk = (
    file: string,
    value: Record<string, unknown>,
    fileLocate: Locate,
    chain: readonly string[],
  ) => {
    const patterns = value.include;
    if (patterns === undefined) return;
    if (!Array.isArray(patterns)) {
      problems.push({
        file,
        path: ['include'],
        locate: fileLocate,
        at: 'value',
        message: 'expected a list of file names or globs, relative to this file',
      });
      return;
    }
    patterns.forEach((pattern, index) => {
      const here = {
        file,
        path: ['include', index] as PathSegment[],
        locate: fileLocate,
        at: 'value' as const,
      };
      if (typeof pattern !== 'string' || pattern === '') {
        problems.push({ ...here, message: 'expected a file name or glob, relative to this file' });
        return;
      }
      // A config given as text ("<demo>") has no folder: its includes are the working directory's.
      const dir = /^<.*>$/.test(file) ? process.cwd() : dirname(resolve(file));
      const matches = globSync(pattern, { cwd: dir }).sort();
      if (matches.length === 0) {
        problems.push({
          ...here,
          message: `"${pattern}" matches no file in ${dir}: an include that finds nothing is a mistake (a moved folder, a typo), not an empty list`,
        });
        return;
      }
      for (const match of matches) {
        // Named as the operator would open it: beside the including file as they named that one.
        const named = isAbsolute(pattern) ? match : join(dirname(file), match);
        const absolute = resolve(dir, match);
        if (chain.includes(absolute)) {
          problems.push({
            ...here,
            message: `${named} includes itself (${[...chain, absolute].map((f) => f.slice(f.lastIndexOf('/') + 1)).join(' → ')}): an include may not come back to a file that includes it`,
          });
          continue;
        }
        if (++files > MAX_FILES) {
          problems.push({ ...here, message: `more than ${MAX_FILES} included files: a glob too wide?` });
          return;
        }
        const read = readIncluded(named, absolute, env, unset);
        if ('reason' in read) {
          problems.push({ ...here, message: `cannot read ${named}: ${read.reason}` });
          continue;
        }
        problems.push(...read.problems);
        fromEnvironment.push(...read.fromEnvironment);
        variables.push(...read.variables);
        if (read.value === undefined) continue;
        for (const key of Object.keys(read.value))
          if (!INCLUDABLE.has(key))
            problems.push({
              file: named,
              path: [key],
              locate: read.locate,
              at: 'key',
              message: `an included file holds routes, upstreams and include only: ${key} is the main file's (${source})`,
            });
        merge(named, read.value, read.locate);
        walk(named, read.value, read.locate, [...chain, absolute]);
      }
    });
  };
  walk(source, document, locate, [resolve(source)]);
  return included;
}

function readIncluded(named: string, absolute: string, env: NodeJS.ProcessEnv, unset: UnsetVariable) {
  let text: string;
  try {
    if (!statSync(absolute).isFile()) return { reason: 'not a file' };
    if (statSync(absolute).size > MAX_BYTES) return { reason: `more than ${MAX_BYTES / 1024 / 1024} MiB` };
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    return { reason: readErrorReason(error) };
  }
  const yaml = readYamlSource(text, env, coerceExpanded, unset);
  const locate: Locate = (path, prefer) => yaml.locate(path, prefer);
  const problems: IncludeProblem[] = [...yaml.syntaxErrors, ...yaml.valueErrors].map((issue) => ({
    file: named,
    path: issue.path,
    locate: () => issue.position,
    at: 'value' as const,
    message: issue.message,
  }));
  const variables = yaml.variables.map(({ name, path }) => ({ name, file: named, path }));
  const value = yaml.syntaxErrors.length === 0 && isMapping(yaml.value) ? yaml.value : undefined;
  if (yaml.syntaxErrors.length === 0 && value === undefined)
    problems.push({
      file: named,
      path: [],
      locate,
      at: 'value',
      message: 'an included file is a mapping with routes and/or upstreams',
    });
  return { value, locate, problems, fromEnvironment: yaml.fromEnvironment, variables };
}
