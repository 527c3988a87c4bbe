/**
 * Reads the YAML text into plain data, keeping where each value came from.
 *
 * The document is walked node by node rather than converted with `toJS()` so that every
 * value, and every key, can be traced back to a line and column for error messages, and so
 * that `${VAR}` is expanded on each scalar string after parsing (see env.ts).
 */

import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import { type FromEnvironment, interpolateEnv, requiredVariables, type UnsetVariable } from './env.ts';
import type { PathSegment } from './schema.ts';
import { tagProblem } from './yaml-tags.ts';

export interface Position {
  readonly line: number;
  readonly column: number;
}

interface SourceIssue {
  readonly path: readonly PathSegment[];
  readonly position: Position;
  readonly message: string;
}

interface YamlSource {
  /** The document as plain data (mappings have no prototype), `${VAR}` expanded. */
  readonly value: unknown;
  /** Syntax errors; when there are any, `value` is not worth validating. */
  readonly syntaxErrors: readonly SourceIssue[];
  /** Problems found while reading values: unset variables, unknown aliases, odd keys. */
  readonly valueErrors: readonly SourceIssue[];
  /** Each `${NAME}` written without a default, with the field it is in (once per name and field). */
  readonly variables: readonly { readonly name: string; readonly path: readonly PathSegment[] }[];
  /**
   * Each non-empty value the environment put into a value that stays text (once per variable
   * and value): what GET /config shows as `${NAME}` (server/admin/config-view.ts). A number or boolean
   * made from a variable is not here: its field cannot hold `${NAME}`.
   */
  readonly fromEnvironment: readonly FromEnvironment[];
  /** Where the value (or, with "key", the key) at `path` is written; falls back to the closest enclosing one. */
  locate(path: readonly PathSegment[], prefer?: 'value' | 'key'): Position;
  /** The line and column of an offset in the text. */
  positionAt(offset: number): Position;
  /** The innermost value whose text holds `offset` (a comment belongs to the mapping around it); [] for none. */
  fieldAt(offset: number): readonly PathSegment[];
}

/** Turns a string that came out of `${...}` into the type the schema wants there, if it can. */
type Coerce = (path: readonly PathSegment[], text: string) => unknown;

interface Located {
  readonly key?: Node;
  readonly value?: Node;
}

/**
 * Bounds on what aliases may make of a file. An alias is a reference, so nesting them multiplies:
 * nine aliases to a list of nine aliases, seven levels deep, is a 563-byte file of 4.8 million
 * values (gigabytes, many seconds, while a reload holds the primary). The yaml library guards its
 * own `toJS()` (`maxAliasCount`); this walk resolves aliases itself, so it keeps its own count.
 * A real config uses a handful of anchors and is a few thousand values.
 */
const YAML_BOUNDS = {
  /** Aliases resolved while reading, those inside an aliased value counted each time it is read. */
  aliases: 1_000,
  /** Values (mappings, lists, scalars) once every alias is expanded. */
  values: 100_000,
} as const;

/** Thrown out of the walk when a bound is crossed; turned into one issue at the outermost alias. */
class Overgrown extends Error {
  readonly at: Node;
  constructor(message: string, at: Node) {
    super(message);
    this.at = at;
  }
}

const FRIENDLIER_SYNTAX_MESSAGES: Readonly<Record<string, string>> = {
  MULTIPLE_DOCS: 'a config file holds one YAML document; remove the extra "---"',
  // The parser recurses once a level: thousands of nested [ or indents run it out of stack, said
  // as "Maximum call stack size exceeded" or "Invalid regular expression: … Stack overflow".
  RESOURCE_EXHAUSTION:
    'values nested too deeply to read (thousands of levels of "[", "{", "- " or indentation): a config nests a few',
};

export function readYamlSource(
  text: string,
  env: NodeJS.ProcessEnv,
  coerce: Coerce,
  unset: UnsetVariable = 'refuse',
): YamlSource {
  const lineCounter = new LineCounter();
  // Keys written twice are found in the walk below, which knows the field's path (the library's
  // own check names only a line) and compares keys as the config reads them: 8080 and "8080" alike.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // Running out of stack is told once, where it first happened, not again for each frame it unwound.
  const errors = doc.errors.filter(
    (error, i) =>
      error.code !== 'RESOURCE_EXHAUSTION' || doc.errors.findIndex((e) => e.code === error.code) === i,
  );
  const syntaxErrors = errors.map((error) => ({
    path: [],
    position: at(error.pos[0]),
    message: FRIENDLIER_SYNTAX_MESSAGES[error.code] ?? error.message,
  }));
  // `%YAML 1.1` switches the parser to YAML 1.1's types: `insecure_skip_verify: yes` would be
  // true, `010` 8 and `1:30` 90, where the file is documented (and checked) as YAML 1.2.
  if (doc.directives?.yaml.version === '1.1')
    syntaxErrors.push({
      path: [],
      position: at(Math.max(0, text.search(/^%YAML[ \t]/m))),
      message:
        'a config is read as YAML 1.2, and %YAML 1.1 would read it otherwise (yes, on and off as true or false, 010 as 8, 1:30 as 90): remove the directive',
    });
  const nodes = new Map<string, Located>();
  const valueErrors: SourceIssue[] = [];
  const variables = new Map<string, { name: string; path: readonly PathSegment[] }>();
  const fromEnvironment = new Map<string, FromEnvironment>();
  const walking = new Set<Node>();
  let aliases = 0;
  let values = 0;
  /** The alias written in the document's own text whose expansion is being walked, if any. */
  let outerAlias: Alias | undefined;

  const positionOf = (node: Node | undefined): Position | undefined =>
    node?.range ? at(node.range[0]) : undefined;

  /** The issue names the alias written in the walked text (the one to rewrite), not one deep inside its anchor. */
  function overgrown(bound: 'aliases' | 'values', at: Node): Overgrown {
    const alias = outerAlias;
    const limit = YAML_BOUNDS[bound];
    if (alias === undefined) return new Overgrown(`more than ${limit} values: a config needs far fewer`, at);
    const what =
      bound === 'aliases'
        ? `more than ${limit} aliases to resolve (one inside an aliased value counts each time that value is used)`
        : `aliases expand this file past ${limit} values`;
    return new Overgrown(
      `${what}; the count passed it at *${alias.source}: a config needs far fewer; write the values out, or nest fewer aliases`,
      alias,
    );
  }

  function walk(node: unknown, path: PathSegment[], key: Node | undefined): unknown {
    if (isAlias(node)) {
      const target = node.resolve(doc as Document);
      if (target === undefined || walking.has(target)) {
        const written = `*${node.source}`;
        // The usual way here is a wildcard host written unquoted: YAML reads "*.example.com" as an alias.
        const message =
          target === undefined
            ? `alias ${written} is not defined (to write a value starting with "*", quote it: "${written}")`
            : `alias ${written} refers to the value that contains it`;
        valueErrors.push({ path, position: positionOf(node)!, message });
        // Stand in with the text as written, so later checks see a value rather than a hole.
        return written;
      }
      if (++aliases > YAML_BOUNDS.aliases) throw overgrown('aliases', node);
      if (outerAlias === undefined) {
        outerAlias = node;
        try {
          return walk(target, path, key);
        } finally {
          outerAlias = undefined;
        }
      }
      node = target;
    }
    if (++values > YAML_BOUNDS.values) throw overgrown('values', node as Node);
    nodes.set(JSON.stringify(path), { key, value: (node ?? undefined) as Node | undefined });
    const tagged = node === null || node === undefined ? undefined : tagProblem(node as Node);
    if (tagged !== undefined)
      valueErrors.push({ path, position: positionOf(node as Node)!, message: tagged });
    if (isMap(node)) {
      walking.add(node);
      const mapping: Record<string, unknown> = Object.create(null);
      const keysSeen = new Map<string, Position>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        if (!isScalar(keyNode) || typeof keyNode.value === 'object') {
          const position = positionOf(keyNode ?? undefined) ?? positionOf(node)!;
          valueErrors.push({ path, position, message: 'expected a plain key (a name), got a complex key' });
          continue;
        }
        const name = String(keyNode.value);
        // Keys are read as written: a `${NAME}` in one would be a field, header or parameter
        // of that literal name (`claims_to_headers`, `match.query`), which nothing sends.
        const referring = interpolateEnv(name, {}, 'empty');
        if (referring.ok && referring.replaced)
          valueErrors.push({
            path: [...path, name],
            position: positionOf(keyNode)!,
            message: `a key is read as written: \${NAME} is replaced in values only, never in a key; write the key itself`,
          });
        const keyTagged = tagProblem(keyNode);
        if (keyTagged !== undefined)
          valueErrors.push({ path: [...path, name], position: positionOf(keyNode)!, message: keyTagged });
        const first = keysSeen.get(name);
        if (first !== undefined) {
          valueErrors.push({
            path: [...path, name],
            position: positionOf(keyNode)!,
            message: `written twice in this mapping (first at line ${first.line}): a key may appear once; keep the one you mean`,
          });
          continue;
        }
        keysSeen.set(name, positionOf(keyNode) ?? { line: 1, column: 1 });
        // YAML 1.1's merge key, which Compose files use: YAML 1.2 (this parser's) reads it as a key
        // named "<<", so the fields it was meant to bring are missing, and "unknown field" hides why.
        if (name === '<<' && keyNode.type === 'PLAIN') {
          valueErrors.push({
            path: [...path, name],
            position: positionOf(keyNode)!,
            message:
              'a merge key (<<) is not read: a config is YAML 1.2, which has none; write the fields out, or alias a whole value (targets: *api_targets)',
          });
          continue;
        }
        mapping[name] = walk(pair.value, [...path, name], keyNode);
      }
      walking.delete(node);
      return mapping;
    }
    if (isSeq(node)) {
      walking.add(node);
      const list = node.items.map((item, index) => walk(item, [...path, index], undefined));
      walking.delete(node);
      return list;
    }
    if (isScalar(node)) {
      if (typeof node.value !== 'string') return node.value;
      for (const name of requiredVariables(node.value))
        variables.set(`${name} ${JSON.stringify(path)}`, { name, path });
      const expanded = interpolateEnv(node.value, env, unset);
      if (!expanded.ok) {
        valueErrors.push({ path, position: positionOf(node)!, message: expanded.message });
        return node.value;
      }
      if (!expanded.replaced) return expanded.value;
      const value = coerce(path, expanded.value);
      if (typeof value === 'string')
        for (const taken of expanded.taken)
          if (taken.value !== '') fromEnvironment.set(JSON.stringify([taken.name, taken.value]), taken);
      return value;
    }
    return null;
  }

  let value: unknown;
  if (syntaxErrors.length === 0) {
    try {
      value = walk(doc.contents, [], undefined);
    } catch (err) {
      if (!(err instanceof Overgrown)) throw err;
      // Reported as a syntax error: the value was never finished, so it is not validated.
      syntaxErrors.push({
        path: [],
        position: positionOf(err.at) ?? { line: 1, column: 1 },
        message: err.message,
      });
    }
  }

  function locate(path: readonly PathSegment[], prefer: 'value' | 'key' = 'value'): Position {
    for (let length = path.length; length >= 0; length--) {
      const found = nodes.get(JSON.stringify(path.slice(0, length)));
      if (!found) continue;
      const [first, second] = prefer === 'key' ? [found.key, found.value] : [found.value, found.key];
      const position = positionOf(first) ?? positionOf(second);
      if (position) return position;
    }
    return { line: 1, column: 1 };
  }

  function fieldAt(offset: number): readonly PathSegment[] {
    let found = '[]';
    let span = Number.POSITIVE_INFINITY;
    for (const [path, { value }] of nodes) {
      const range = value?.range;
      if (range && range[0] <= offset && offset < range[2] && range[2] - range[0] < span) {
        found = path;
        span = range[2] - range[0];
      }
    }
    return JSON.parse(found);
  }

  return {
    value,
    syntaxErrors,
    valueErrors,
    variables: [...variables.values()],
    fromEnvironment: [...fromEnvironment.values()],
    locate,
    positionAt: at,
    fieldAt,
  };
}
