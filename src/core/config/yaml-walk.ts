/**
 * The walk of a parsed YAML document into plain data: aliases resolved (within bounds),
 * mapping keys checked as the config reads them, `${VAR}` expanded on each scalar string, and
 * every value's node kept by its path so that a problem can name its line and column.
 */
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { type FromEnvironment, interpolateEnv, requiredVariables, type UnsetVariable } from './env.ts';
import type { PathSegment } from './schema.ts';
import { tagProblem } from './yaml-tags.ts';

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A value's key and value nodes, for its position. */
export interface Located {
  readonly key?: Node;
  readonly value?: Node;
}

export interface SourceIssue {
  readonly path: readonly PathSegment[];
  readonly position: Position;
  readonly message: string;
}

/** Turns a string that came out of `${...}` into the type the schema wants there, if it can. */
export type Coerce = (path: readonly PathSegment[], text: string) => unknown;

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
export class Overgrown extends Error {
  readonly at: Node;
  constructor(message: string, at: Node) {
    super(message);
    this.at = at;
  }
}

/** One walk of a document: the plain value it returns, and what it found on the way. */
export class DocumentWalk {
  /** Each value's nodes, by its path as JSON. */
  readonly nodes = new Map<string, Located>();
  readonly valueErrors: SourceIssue[] = [];
  readonly variables = new Map<string, { name: string; path: readonly PathSegment[] }>();
  readonly fromEnvironment = new Map<string, FromEnvironment>();
  readonly #doc: Document;
  readonly #positionOf: (node: Node | undefined) => Position | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #coerce: Coerce;
  readonly #unset: UnsetVariable;
  /** The mappings and lists being walked: an alias to one of them refers to the value that contains it. */
  readonly #walking = new Set<Node>();
  #aliases = 0;
  #values = 0;
  /** The alias written in the document's own text whose expansion is being walked, if any. */
  #outerAlias: Alias | undefined;
  /** Where an anchor of this name is written after an offset, if it is. */
  readonly #laterAnchor: (name: string, offset: number) => Position | undefined;

  constructor(
    doc: Document,
    positionOf: (node: Node | undefined) => Position | undefined,
    env: NodeJS.ProcessEnv,
    coerce: Coerce,
    unset: UnsetVariable,
    laterAnchor: (name: string, offset: number) => Position | undefined,
  ) {
    this.#doc = doc;
    this.#positionOf = positionOf;
    this.#env = env;
    this.#coerce = coerce;
    this.#unset = unset;
    this.#laterAnchor = laterAnchor;
  }

  /** The plain value of `node`, at `path`; throws Overgrown when aliases make too much of it. */
  walk(node: unknown, path: PathSegment[], key: Node | undefined): unknown {
    if (isAlias(node)) {
      const target = node.resolve(this.#doc);
      if (target === undefined || this.#walking.has(target)) return this.#unresolved(node, target, path);
      if (++this.#aliases > YAML_BOUNDS.aliases) throw this.#overgrown('aliases', node);
      if (this.#outerAlias === undefined) {
        this.#outerAlias = node;
        try {
          return this.walk(target, path, key);
        } finally {
          this.#outerAlias = undefined;
        }
      }
      node = target;
    }
    if (++this.#values > YAML_BOUNDS.values) throw this.#overgrown('values', node as Node);
    this.nodes.set(JSON.stringify(path), { key, value: (node ?? undefined) as Node | undefined });
    const tagged = node === null || node === undefined ? undefined : tagProblem(node as Node);
    if (tagged !== undefined)
      this.valueErrors.push({ path, position: this.#positionOf(node as Node)!, message: tagged });
    if (isMap(node)) return this.#mapping(node, path);
    if (isSeq(node)) {
      this.#walking.add(node);
      const list = node.items.map((item, index) => this.walk(item, [...path, index], undefined));
      this.#walking.delete(node);
      return list;
    }
    if (isScalar(node)) {
      if (typeof node.value === 'string') return this.#text(node.value, node, path);
      if (typeof node.value === 'number') this.#inexact(node, path);
      return node.value;
    }
    return null;
  }

  /**
   * A whole number written past 2^53 − 1 is read rounded (9007199254740993 as ...992): said as
   * written, once at its field, before a check of the field quotes the number it became.
   */
  #inexact(node: Node & { value: unknown; source?: string }, path: PathSegment[]): void {
    const { value, source } = node;
    if (typeof value !== 'number' || Number.isSafeInteger(value) || source === undefined) return;
    if (!/^[-+]?(?:\d+|0x[\da-fA-F]+|0o[0-7]+)$/.test(source)) return;
    this.valueErrors.push({
      path,
      position: this.#positionOf(node)!,
      message: `${source} is no exact number: a whole number past ${Number.MAX_SAFE_INTEGER} (2^53 − 1) is read rounded, as ${value}`,
    });
  }

  /** An alias to nothing, or to the value that contains it: said, and stood in for by its text. */
  #unresolved(node: Alias, target: Node | undefined, path: PathSegment[]): string {
    const written = `*${node.source}`;
    // The usual way here is a wildcard host written unquoted: YAML reads "*.example.com" as an alias.
    const message =
      target === undefined
        ? this.#undefinedAlias(node)
        : `alias ${written} refers to the value that contains it`;
    this.valueErrors.push({ path, position: this.#positionOf(node)!, message });
    // Stand in with the text as written, so later checks see a value rather than a hole.
    return written;
  }

  /** An alias no anchor above it names: one written below (YAML reads only those above), or none at all. */
  #undefinedAlias(node: Alias): string {
    const written = `*${node.source}`;
    const later = node.range ? this.#laterAnchor(node.source, node.range[0]) : undefined;
    if (later !== undefined)
      return `alias ${written} is defined only after this line, at line ${later.line}: an alias can only name an anchor (&${node.source}) written above it; move the anchored value up`;
    return `alias ${written} is not defined (to write a value starting with "*", quote it: "${written}")`;
  }

  #mapping(node: YAMLMap, path: PathSegment[]): Record<string, unknown> {
    this.#walking.add(node);
    const mapping: Record<string, unknown> = Object.create(null);
    const keysSeen = new Map<string, Position>();
    for (const pair of node.items) {
      const name = this.#keyName(pair, node, path, keysSeen);
      if (name !== undefined) mapping[name] = this.walk(pair.value, [...path, name], pair.key as Node);
    }
    this.#walking.delete(node);
    return mapping;
  }

  /** The key of one pair as the config reads it, or undefined for a key it does not read (said why). */
  #keyName(
    pair: Pair,
    node: YAMLMap,
    path: PathSegment[],
    keysSeen: Map<string, Position>,
  ): string | undefined {
    const keyNode = pair.key as Node | null;
    if (!isScalar(keyNode) || typeof keyNode.value === 'object') {
      const position = this.#positionOf(keyNode ?? undefined) ?? this.#positionOf(node)!;
      this.valueErrors.push({ path, position, message: 'expected a plain key (a name), got a complex key' });
      return undefined;
    }
    const name = String(keyNode.value);
    const position = this.#positionOf(keyNode);
    const keyPath = [...path, name];
    // Keys are read as written: a `${NAME}` in one would be a field, header or parameter
    // of that literal name (`claims_to_headers`, `match.query`), which nothing sends.
    const referring = interpolateEnv(name, {}, 'empty');
    if (referring.ok && referring.replaced)
      this.valueErrors.push({
        path: keyPath,
        position: position!,
        message: `a key is read as written: \${NAME} is replaced in values only, never in a key; write the key itself`,
      });
    const keyTagged = tagProblem(keyNode);
    if (keyTagged !== undefined)
      this.valueErrors.push({ path: keyPath, position: position!, message: keyTagged });
    const first = keysSeen.get(name);
    if (first !== undefined) {
      this.valueErrors.push({
        path: keyPath,
        position: position!,
        message: `written twice in this mapping (first at line ${first.line}): a key may appear once; keep the one you mean`,
      });
      return undefined;
    }
    keysSeen.set(name, position ?? { line: 1, column: 1 });
    // YAML 1.1's merge key, which Compose files use: YAML 1.2 (this parser's) reads it as a key
    // named "<<", so the fields it was meant to bring are missing, and "unknown field" hides why.
    if (name === '<<' && keyNode.type === 'PLAIN') {
      this.valueErrors.push({
        path: keyPath,
        position: position!,
        message:
          'a merge key (<<) is not read: a config is YAML 1.2, which has none; write the fields out, or alias a whole value (targets: *api_targets)',
      });
      return undefined;
    }
    return name;
  }

  /** A scalar string: its `${NAME}`s noted and expanded, a value made of them coerced to the field's type. */
  #text(written: string, node: Node, path: PathSegment[]): unknown {
    for (const name of requiredVariables(written))
      this.variables.set(`${name} ${JSON.stringify(path)}`, { name, path });
    const expanded = interpolateEnv(written, this.#env, this.#unset);
    if (!expanded.ok) {
      this.valueErrors.push({ path, position: this.#positionOf(node)!, message: expanded.message });
      return written;
    }
    if (!expanded.replaced) return expanded.value;
    const value = this.#coerce(path, expanded.value);
    if (typeof value === 'string')
      for (const taken of expanded.taken)
        if (taken.value !== '') this.fromEnvironment.set(JSON.stringify([taken.name, taken.value]), taken);
    return value;
  }

  /** The issue names the alias written in the walked text (the one to rewrite), not one deep inside its anchor. */
  #overgrown(bound: 'aliases' | 'values', at: Node): Overgrown {
    const alias = this.#outerAlias;
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
}
