/**
 * The YAML parser's syntax errors, said as config problems: what to do in words, at the field the
 * broken line is in. The parser's own ("Tabs are not allowed as indentation", "Nested mappings are
 * not allowed in compact mappings") named no field, and often told one mistake two or three ways
 * on one line (a value running into a mapping is also "Implicit keys need to be on a single line").
 */

import { type Document, isPair, isScalar, isSeq, type Node, visit } from 'yaml';
import type { PathSegment } from './schema.ts';
import { nodePathOf } from './unclosed.ts';
import type { Position } from './yaml-walk.ts';

/** What each parser message means here; the parser's own words where none is known. */
const PLAIN_WORDS: readonly (readonly [RegExp, (match: RegExpExecArray, above: number) => string])[] = [
  [/^Tabs are not allowed as indentation/, () => 'a tab indents this line: YAML indents with spaces only'],
  [
    /^Nested mappings are not allowed in compact mappings/,
    () =>
      'this value reads as a mapping: quote a value that holds ": " ("a: b"), and indent the next field as this one',
  ],
  [
    /^All mapping items must start at the same column/,
    (_, above) =>
      `this line is indented unlike the fields above it${above > 0 ? ` (line ${above})` : ''}: the fields of one mapping start at one column`,
  ],
  [
    /^Sequence item without - indicator/,
    () =>
      'this line is indented less than the fields above it and has no "- " of its own: indent it as they are, or start a list item with "- "',
  ],
  [
    /^A block sequence may not be used as an implicit map key/,
    () => 'a list item ("- …") among fields: write its field above it ("field:", the items below it)',
  ],
  [
    /^Implicit map keys need to be followed by map values/,
    () =>
      'a line that is no "field: value" among fields: write it as one, or start it with "#" for a comment',
  ],
  [
    /^Implicit keys need to be on a single line/,
    () => 'a key runs over two lines: write a field as "key: value" on one',
  ],
  [
    /^Unexpected scalar at node end/,
    () =>
      `text after the value's end: a quote closed early ('it''s' inside '…', or "it's"), or words after a closing ] or }`,
  ],
  [
    /^Unexpected flow-(seq|map)-end token in YAML stream/,
    ([, kind]) =>
      kind === 'seq'
        ? 'this ] closes nothing: remove it, or write the [ it was meant to close'
        : 'this } closes nothing: remove it, or write the { it was meant to close',
  ],
  [
    /^Block collections are not allowed within flow collections/,
    () =>
      'a ": " inside { } or [ ] that is no field of its own: part the fields with "," ({ a: 1, b: 2 }), or quote a value that holds ": "',
  ],
  [/^Unexpected , in flow/, () => 'a "," with no entry before it: remove it'],
  [
    /^Plain value cannot start with reserved character (.)/,
    ([, char]) => `a value cannot start with ${char} (kept by YAML for later use): quote it ("${char}…")`,
  ],
];

/** `message` said as what to do; `above` is the line of the nearest field above the error (0: none). */
export function plainSyntaxMessage(message: string, above: number): string {
  for (const [pattern, say] of PLAIN_WORDS) {
    const match = pattern.exec(message);
    if (match !== null) return say(match, above);
  }
  return message;
}

/** A place where a field starts: its key, or a block list item's "- ". */
interface Anchor {
  readonly offset: number;
  readonly position: Position;
  readonly path: readonly PathSegment[];
}

/**
 * Where the parser errors of one document are: for an error inside a value (mid-line, as text
 * after a closing quote), that value's field; for one about a whole line (its indentation, a tab),
 * the field the line is written under, by indentation (the AST of a broken line is no guide).
 */
export function syntaxPlaces(
  doc: Document.Parsed,
  text: string,
  at: (offset: number) => Position,
): (offset: number) => { path: readonly PathSegment[]; above: number } {
  const anchors: Anchor[] = [];
  const values: { range: readonly [number, number, number]; path: readonly PathSegment[] }[] = [];
  visit(doc, (key, node, ancestors) => {
    if (key === 'key' || node === null || isPair(node)) {
      if (isPair(node) && isScalar(node.key) && node.key.range) {
        const offset = node.key.range[0];
        anchors.push({ offset, position: at(offset), path: nodePathOf([...ancestors, node]) });
      }
      return;
    }
    const range = (node as Node).range;
    if (!range) return;
    const path = nodePathOf([...ancestors, node]);
    values.push({ range, path });
    const parent = ancestors.at(-1);
    if (isSeq(parent) && !parent.flow) {
      // Its "- ", spaces between (an item the parser made of a line without one has none).
      const dash = text.lastIndexOf('-', range[0]);
      if (dash >= 0 && /^[ \t]*$/.test(text.slice(dash + 1, range[0])))
        anchors.push({ offset: dash, position: at(dash), path });
    }
  });
  anchors.sort((a, b) => a.offset - b.offset);
  return (offset) => {
    const position = at(offset);
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    const indent = /^[ \t]*/.exec(text.slice(lineStart))?.[0].length ?? 0;
    const above = anchors.filter((anchor) => anchor.position.line < position.line).at(-1);
    if (offset - lineStart > indent) {
      // Mid-line: the innermost value that holds it.
      let found: readonly PathSegment[] = [];
      let span = Number.POSITIVE_INFINITY;
      for (const { range, path } of values)
        if (range[0] <= offset && offset <= range[2] && range[2] - range[0] < span) {
          found = path;
          span = range[2] - range[0];
        }
      return { path: found, above: above?.position.line ?? 0 };
    }
    // At the line's indentation: the last field above it that starts left of it.
    const under = anchors.filter(
      (anchor) => anchor.position.line < position.line && anchor.position.column <= indent,
    );
    return { path: under.at(-1)?.path ?? [], above: above?.position.line ?? 0 };
  };
}
