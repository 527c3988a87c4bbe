/**
 * Reads the YAML text into plain data, keeping where each value came from.
 *
 * The document is walked node by node rather than converted with `toJS()` so that every
 * value, and every key, can be traced back to a line and column for error messages, and so
 * that `${VAR}` is expanded on each scalar string after parsing (see env.ts).
 */

import { type Document, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { FromEnvironment, UnsetVariable } from './env.ts';
import type { PathSegment } from './schema.ts';
import { unclosedIn, unclosedMessage } from './unclosed.ts';
import { plainSyntaxMessage, syntaxPlaces } from './yaml-syntax.ts';
import {
  type Coerce,
  DocumentWalk,
  type Located,
  Overgrown,
  type Position,
  type SourceIssue,
} from './yaml-walk.ts';

export type { Position };

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
  // Keys written twice are found in the walk, which knows the field's path (the library's own
  // check names only a line) and compares keys as the config reads them: 8080 and "8080" alike.
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  } catch (err) {
    // The composer turns running out of stack into a RESOURCE_EXHAUSTION error, the parser before
    // it does not: 2,000 levels of indentation, then a line back at the left, make it recurse once
    // a level as it closes them, and that threw out of `check` (exit 70), `serve` (a stack) and a
    // reload (a "config loader: RangeError" problem).
    if (!outOfStack(err)) throw err;
    return tooDeep(text);
  }
  // Where the stack runs out depends on how large the parser's frames are, and they shrink once
  // its code is optimized: the same text read again in a warm process (a reload, the library's
  // parseConfig, a test) got past the parser and ran the composer out instead, which told it at
  // the line it had reached, with the syntax errors of the half-read rest beside it. Either way
  // it is the one problem, where the levels are.
  if (doc.errors.some((error) => error.code === 'RESOURCE_EXHAUSTION')) return tooDeep(text);
  // A byte-order mark is no column an editor shows: counted, every place on line 1 was one too far.
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: line === 1 ? Math.max(1, col - bom) : col };
  };
  const positionOf = (node: Node | undefined): Position | undefined =>
    node?.range ? at(node.range[0]) : undefined;
  const syntaxErrors = withStrayBom(syntaxErrorsOf(doc, text, at), text, at);
  const walk = new DocumentWalk(doc, positionOf, env, coerce, unset, laterAnchor(doc, text, at));
  let value: unknown;
  if (syntaxErrors.length === 0) {
    try {
      value = walk.walk(doc.contents, [], undefined);
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
  const { nodes } = walk;
  return {
    value,
    syntaxErrors,
    valueErrors: walk.valueErrors,
    variables: [...walk.variables.values()],
    fromEnvironment: [...walk.fromEnvironment.values()],
    locate: (path, prefer = 'value') => locate(nodes, positionOf, path, prefer),
    positionAt: at,
    fieldAt: (offset) => fieldAt(nodes, offset),
  };
}

const STRAY_BOM =
  'a byte-order mark (U+FEFF) inside the file, as files joined together (cat a.yaml b.yaml) leave one: remove it; only the first line may begin with one';

/**
 * A byte-order mark past the file's start: files joined together, each saved with one, leave it
 * at a line's start, where the parser reads it as text. The key it begins was told as
 * `unknown field 'routes' (did you mean 'routes'?)`, the mark invisible, or its line as indented
 * unlike the others. Told at its place instead, with the syntax errors after it, which follow
 * from it, left out.
 */
function withStrayBom(errors: SourceIssue[], text: string, at: (offset: number) => Position): SourceIssue[] {
  const offset = text.indexOf('\ufeff', 1);
  if (offset === -1) return errors;
  const position = at(offset);
  const before = errors.filter((error) => error.position.line < position.line);
  return [...before, { path: [], position, message: STRAY_BOM }];
}

/** A RangeError "Maximum call stack size exceeded", or a regular expression's "Stack overflow". */
function outOfStack(err: unknown): boolean {
  return (
    (err instanceof RangeError || err instanceof SyntaxError) &&
    /call stack|stack overflow/i.test(err.message)
  );
}

/**
 * The document the parser could not finish, as one syntax error at its most indented line (the
 * first of them): where the levels are, which a parser out of stack no longer knows.
 */
function tooDeep(text: string): YamlSource {
  const lines = text.split('\n');
  let deepest = 0;
  let width = -1;
  for (const [i, line] of lines.entries()) {
    const indent = /^[ \t-]*/.exec(line)?.[0].length ?? 0;
    if (indent > width) [deepest, width] = [i, indent];
  }
  const position = { line: deepest + 1, column: width + 1 };
  return {
    value: undefined,
    syntaxErrors: [{ path: [], position, message: FRIENDLIER_SYNTAX_MESSAGES.RESOURCE_EXHAUSTION }],
    valueErrors: [],
    variables: [],
    fromEnvironment: [],
    locate: () => position,
    positionAt: () => position,
    fieldAt: () => [],
  };
}

/**
 * Where the anchor `&name` is first written after `offset`: YAML reads an alias as the anchor
 * above it only, so one written below is the reason an alias is "not defined".
 */
function laterAnchor(doc: Document, text: string, at: (offset: number) => Position) {
  return (name: string, offset: number): Position | undefined => {
    let start: number | undefined;
    visit(doc, {
      Node(_, node) {
        if (node.anchor !== name || node.range === undefined || node.range === null) return;
        if (node.range[0] < offset) return;
        start = node.range[0];
        return visit.BREAK;
      },
    });
    if (start === undefined) return undefined;
    // A node's range starts at its content: its `&name` is written before it, on the key's line
    // for a block mapping or list (`base: &base` then the fields under it).
    const anchor = text.lastIndexOf(`&${name}`, start);
    return at(anchor >= offset ? anchor : start);
  };
}

/** The parser's errors, said the friendlier way, and a `%YAML 1.1` directive refused. */
function syntaxErrorsOf(doc: Document.Parsed, text: string, at: (offset: number) => Position): SourceIssue[] {
  const unclosedAt = unclosedIn(doc, text);
  const told = withUnquotedVariables(doc.errors, text).map((error) => ({
    ...error,
    open: unclosedAt(error.code, error.message, error.pos),
  }));
  // A quote left open takes the `]` and `}` after it into its value: the brackets it swallowed
  // are left open at the same place, which follows from the quote and is not told again.
  const quoteEnds = new Set(told.filter(({ open }) => open?.kind === 'quote').map(({ pos }) => pos));
  const placeOf = syntaxPlaces(doc, text, at);
  // Past a bare variable the parser's tree is derailed: its field is where it would be quoted.
  let quotedPlaces: typeof placeOf | undefined;
  const quotedPlaceOf = (offset: number) => {
    quotedPlaces ??= placesWithVariablesAsText(text, at);
    return quotedPlaces(offset);
  };
  const syntaxErrors = oneALine(told, at)
    .filter(({ open, pos }) => open?.kind !== 'bracket' || !quoteEnds.has(pos))
    .map(({ pos, code, message, open }): SourceIssue => {
      if (open !== undefined)
        return {
          path: open.path,
          position: at(open.offset),
          message: unclosedMessage(
            open,
            at(pos).line,
            open.wrongCloser === undefined ? undefined : at(open.wrongCloser),
          ),
        };
      // A bare variable names itself, the value to quote and the field it is written in.
      if (code === 'UNQUOTED_VARIABLE') return { path: quotedPlaceOf(pos).path, position: at(pos), message };
      // A second document begun without "---", after a "..." that ended the first: there is no
      // "---" to remove.
      if (code === 'MULTIPLE_DOCS' && !text.startsWith('---', pos))
        return {
          path: [],
          position: at(pos),
          message:
            'a config file holds one YAML document, and the "..." above this line ends it: remove the "..." and what follows it, or keep one of the two',
        };
      const friendlier = FRIENDLIER_SYNTAX_MESSAGES[code];
      if (friendlier !== undefined) return { path: [], position: at(pos), message: friendlier };
      const { path, above } = placeOf(pos);
      return { path, position: at(pos), message: plainSyntaxMessage(message, above) };
    });
  // `%YAML 1.1` switches the parser to YAML 1.1's types: `insecure_skip_verify: yes` would be
  // true, `010` 8 and `1:30` 90, where the file is documented (and checked) as YAML 1.2.
  if (doc.directives?.yaml.version === '1.1')
    syntaxErrors.push({
      path: [],
      position: at(Math.max(0, text.search(/^%YAML[ \t]/m))),
      message:
        'a config is read as YAML 1.2, and %YAML 1.1 would read it otherwise (yes, on and off as true or false, 010 as 8, 1:30 as 90): remove the directive',
    });
  return syntaxErrors;
}

/**
 * `syntaxPlaces` of `text` with each `${…}` made plain text of the same length (`${URL}` as
 * `$_URL_`), so that a bare one inside `[…]` or `{…}` is the value it was meant to be, at the same
 * offsets: the fields around it are where the file writes them, not where the derailed parse left them.
 */
function placesWithVariablesAsText(
  text: string,
  at: (offset: number) => Position,
): ReturnType<typeof syntaxPlaces> {
  let plain = text;
  // Innermost first: a default may hold a reference of its own (`${A:-${B}}`).
  for (let before = ''; before !== plain; ) {
    before = plain;
    plain = plain.replace(/\$\{([^{}\s]*)\}/g, '$$_$1_');
  }
  return syntaxPlaces(parseDocument(plain, { prettyErrors: false, uniqueKeys: false }), plain, at);
}

/**
 * The first error of each line: the parser often tells one mistake two or three ways at one place
 * (a value running into a mapping is also a key over two lines, a stray word also a key without a
 * value), each after the first a consequence of it. And the first token the parser could not place
 * at all (a stray `]`): it reads nothing after it, and told each line that follows as another.
 */
function oneALine<Told extends { pos: number; code: string; message: string; open?: unknown }>(
  errors: readonly Told[],
  at: (offset: number) => Position,
): Told[] {
  const lines = new Set<number>();
  let lost = false;
  return errors.filter(({ pos, code, message, open }) => {
    // Each bare variable, each opening left open, is a mistake of its own.
    if (code === 'UNQUOTED_VARIABLE' || open !== undefined) return true;
    if (/ token in YAML stream/.test(message)) {
      if (lost) return false;
      lost = true;
    }
    const { line } = at(pos);
    return !lines.has(line) && lines.add(line);
  });
}

/**
 * A `${VAR}` written bare inside `[…]` or `{…}` (`targets: [{ url: ${URL} }]`, fine outside them)
 * is YAML's `{` of a mapping to the parser, which said so in four or five messages of its own
 * ("Unexpected flow-map-start at node end", "Flow sequence in block collection must be …") that
 * never name the variable. Told as what it is instead, and the errors after it, which follow from
 * it, are left out.
 */
function withUnquotedVariables(
  errors: readonly {
    readonly pos: readonly [number, number];
    readonly code: string;
    readonly message: string;
  }[],
  text: string,
): { pos: number; code: string; message: string }[] {
  const told: { pos: number; code: string; message: string }[] = [];
  let derailedAt: number | undefined;
  for (const { pos, code, message } of errors) {
    const [start] = pos;
    const variable =
      text[start] === '{' && text[start - 1] === '$' ? /^\$\{[^}\s]*\}?/.exec(text.slice(start - 1)) : null;
    if (variable !== null) {
      // The value it is in, from its start on the line (`Bearer ${TOKEN}`, `http://api/${P}`), to quote whole.
      const line = text.slice(text.lastIndexOf('\n', start - 1) + 1, start - 1);
      const head = /(?:^|[,[{]|:[ \t])[ \t]*((?:[^,[\]{}:]|:(?![ \t]))*)$/.exec(line)?.[1] ?? '';
      told.push({
        pos: start - 1 - head.length,
        code: 'UNQUOTED_VARIABLE',
        message: `${variable[0]} inside [ ] or { } must be quoted ("${head}${variable[0]}"): bare, YAML reads its { as the start of a mapping`,
      });
      derailedAt ??= start;
    } else if (derailedAt === undefined || start < derailedAt) told.push({ pos: start, code, message });
  }
  return told;
}

/** Where the value (or the key) at `path` is written, else the closest enclosing one's, else 1:1. */
function locate(
  nodes: ReadonlyMap<string, Located>,
  positionOf: (node: Node | undefined) => Position | undefined,
  path: readonly PathSegment[],
  prefer: 'value' | 'key',
): Position {
  for (let length = path.length; length >= 0; length--) {
    const found = nodes.get(JSON.stringify(path.slice(0, length)));
    if (!found) continue;
    const [first, second] = prefer === 'key' ? [found.key, found.value] : [found.value, found.key];
    const position = positionOf(first) ?? positionOf(second);
    if (position) return position;
  }
  return { line: 1, column: 1 };
}

/** The innermost value whose text holds `offset`; [] for none. */
function fieldAt(nodes: ReadonlyMap<string, Located>, offset: number): readonly PathSegment[] {
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
