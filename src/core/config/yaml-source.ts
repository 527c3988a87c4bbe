/**
 * Reads the YAML text into plain data, keeping where each value came from.
 *
 * The document is walked node by node rather than converted with `toJS()` so that every
 * value, and every key, can be traced back to a line and column for error messages, and so
 * that `${VAR}` is expanded on each scalar string after parsing (see env.ts).
 */

import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { interpolateEnv } from './env.ts';
import type { PathSegment } from './schema.ts';

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
  /** Where the value (or, with "key", the key) at `path` is written; falls back to the closest enclosing one. */
  locate(path: readonly PathSegment[], prefer?: 'value' | 'key'): Position;
}

/** Turns a string that came out of `${...}` into the type the schema wants there, if it can. */
type Coerce = (path: readonly PathSegment[], text: string) => unknown;

interface Located {
  readonly key?: Node;
  readonly value?: Node;
}

const FRIENDLIER_SYNTAX_MESSAGES: Readonly<Record<string, string>> = {
  MULTIPLE_DOCS: 'a config file holds one YAML document; remove the extra "---"',
};

export function readYamlSource(text: string, env: NodeJS.ProcessEnv, coerce: Coerce): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntaxErrors = doc.errors.map((error) => ({
    path: [],
    position: at(error.pos[0]),
    message: FRIENDLIER_SYNTAX_MESSAGES[error.code] ?? error.message,
  }));
  const nodes = new Map<string, Located>();
  const valueErrors: SourceIssue[] = [];
  const walking = new Set<Node>();

  const positionOf = (node: Node | undefined): Position | undefined =>
    node?.range ? at(node.range[0]) : undefined;

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
      node = target;
    }
    nodes.set(JSON.stringify(path), { key, value: (node ?? undefined) as Node | undefined });
    if (isMap(node)) {
      walking.add(node);
      const mapping: Record<string, unknown> = Object.create(null);
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        if (!isScalar(keyNode) || typeof keyNode.value === 'object') {
          const position = positionOf(keyNode ?? undefined) ?? positionOf(node)!;
          valueErrors.push({ path, position, message: 'expected a plain key (a name), got a complex key' });
          continue;
        }
        const name = String(keyNode.value);
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
      const expanded = interpolateEnv(node.value, env);
      if (!expanded.ok) {
        valueErrors.push({ path, position: positionOf(node)!, message: expanded.message });
        return node.value;
      }
      return expanded.replaced ? coerce(path, expanded.value) : expanded.value;
    }
    return null;
  }

  const value = syntaxErrors.length === 0 ? walk(doc.contents, [], undefined) : undefined;

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

  return { value, syntaxErrors, valueErrors, locate };
}
