/**
 * Where a field of the checked document is written. The document checked is the main file with
 * its includes' routes, upstreams and plugins joined (includes.ts) and the route defaults given
 * (route-defaults.ts); a problem or warning is told at the file, field and line that write it.
 */

import type { ConfigProblem } from './config-error.ts';
import { formatPath } from './config-path.ts';
import type { Included } from './includes.ts';
import type { WrittenElsewhere } from './report.ts';
import { type DefaultsTaken, writtenAt } from './route-defaults.ts';
import type { PathSegment } from './schema.ts';
import type { Position } from './yaml-source.ts';

type Locate = (path: readonly PathSegment[], prefer?: 'value' | 'key') => Position;

export interface Place {
  readonly file: string;
  /** The field as its file writes it (`routes[0]` of an included file, `route_defaults.cors`). */
  readonly path: readonly PathSegment[];
  readonly position: Position;
}

/** Finds the place of a checked field: `at` as a Report's (`parent`: a missing field, its mapping's key). */
export function placesOf(
  taken: DefaultsTaken,
  included: Included,
  source: string,
  locate: Locate,
): (field: readonly PathSegment[], at: 'value' | 'key' | 'parent') => Place {
  return (field, at) => {
    const merged = writtenAt(taken, field);
    const written = included.writtenIn(merged);
    const { file, path, locate: inFile } = written ?? { file: source, path: merged, locate };
    const position = at === 'parent' ? inFile(path.slice(0, -1), 'key') : inFile(path, at);
    return { file, path, position };
  };
}

/**
 * Names a route's field it took from route_defaults where it is written: `route_defaults.timeouts.response
 * at line 5`, and `… at line 5 of candor.yaml` for a route of an included file, whose problem is
 * told in that file, where the bare line would be one of its own.
 */
export function takenFrom(taken: DefaultsTaken, placeOf: ReturnType<typeof placesOf>): WrittenElsewhere {
  return (field) => {
    if (writtenAt(taken, field) === field) return undefined;
    const { file, path, position } = placeOf(field, 'value');
    const inAnother = placeOf(field.slice(0, 2), 'value').file !== file;
    return `${formatPath(path)} at line ${position.line}${inAnother ? ` of ${file}` : ''}`;
  };
}

/**
 * A message told in `file` with the routes it names (`routes[3]`, the checked document's
 * numbering) named as their files write them: `routes[0]` of the file the message is told in, or
 * `routes[0] of main.yaml` when another file writes it. Read in an included file, the checked
 * document's numbering would name a route of another file by one of this file's numbers.
 */
export function routesAsWritten(
  included: Included,
  source: string,
): (message: string, file: string) => string {
  return (message, file) => {
    // One pass over the message: a warning may name thousands of routes, and reading it from
    // its start again for each made the loader quadratic in its length.
    const inside = quotedFrom(message);
    return message.replace(/\broutes\[(\d+)\]/g, (mention, index: string, at: number) => {
      if (inside(at)) return mention;
      const written = included.writtenIn(['routes', Number(index)]);
      const where = written?.file ?? source;
      const named = written === undefined ? mention : formatPath(written.path);
      return where === file ? named : `${named} of ${where}`;
    });
  };
}

/**
 * Whether message[at] is inside what a message quotes of the config (`'…'`, `"…"`, or a value in
 * parentheses: `(/docs/routes[1])`), a value as written, never renamed. Asked of places in
 * increasing order (as replace meets them), it reads each character once.
 */
function quotedFrom(message: string): (at: number) => boolean {
  let quote = '';
  let depth = 0;
  let read = 0;
  return (at) => {
    for (; read < at; read++) {
      const c = message[read];
      if (quote !== '') {
        if (c === quote) quote = '';
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '(') depth++;
      else if (c === ')' && depth > 0) depth--;
    }
    return quote !== '' || depth > 0;
  };
}

/** The main file's problems first, then each included file's, each in the order of its lines. */
export function byFileAndLine(source: string): (a: ConfigProblem, b: ConfigProblem) => number {
  const rank = (file: string) => (file === source ? '' : file);
  return (a, b) => rank(a.file).localeCompare(rank(b.file)) || a.line - b.line || a.column - b.column;
}

/**
 * Tells a warning at its place, once: a default's, found on every route that took it, is one
 * warning at `route_defaults`, as its problems are.
 */
export function warningsTo(
  placeOf: ReturnType<typeof placesOf>,
  asWritten: (message: string) => string,
  warnings: ConfigProblem[] | undefined,
  named: (message: string, file: string) => string,
): (field: readonly PathSegment[], message: string, prefer: 'value' | 'key') => void {
  const warned = new Set<string>();
  return (field, message, prefer) => {
    const { file, path, position } = placeOf(field, prefer);
    const key = `${file}\n${formatPath(path)}\n${asWritten(named(message, file))}`;
    if (warned.has(key)) return;
    warned.add(key);
    // Told at route_defaults, a warning about one route ("the route matches only POST") left
    // the reader to find which: it names the first route it is told for, as the default's
    // timeouts problem does (route-timeout-checks.ts), unless its words name it already: one that
    // names only another route ("is routes[0]'s too … this route is named '/a#1'") still needs it.
    const forRoute =
      path[0] === 'route_defaults' &&
      field[0] === 'routes' &&
      typeof field[1] === 'number' &&
      !message.includes(`routes[${field[1]}]`);
    const said = asWritten(named(forRoute ? `for routes[${field[1]}], ${message}` : message, file));
    warnings?.push({ file, ...position, path: formatPath(path), message: said });
  };
}
