/**
 * The YAML parser's syntax errors, said as config problems: what to do in words, at the field the
 * broken line is in. The parser's own ("Tabs are not allowed as indentation", "Nested mappings are
 * not allowed in compact mappings") named no field, and often told one mistake two or three ways
 * on one line (a value running into a mapping is also "Implicit keys need to be on a single line").
 */

import { type Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { PathSegment } from './schema.ts';
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

/** Where a field starts (its key, or a block list item's "- "), and the field it is written in. */
interface Anchor {
  readonly offset: number;
  readonly column: number;
  readonly path: readonly PathSegment[];
  /** Index of the anchor of the field around it; -1 for none. */
  readonly parent: number;
}

/** A value's text, and the value around it. */
interface Span {
  readonly start: number;
  readonly end: number;
  readonly path: readonly PathSegment[];
  readonly parent: number;
}

/**
 * Where the parser errors of one document are: for an error inside a value (mid-line, as text
 * after a closing quote), that value's field; for one about a whole line (its indentation, a tab),
 * the field the line is written under, by indentation (the AST of a broken line is no guide).
 * `above` is the line of the nearest field above the error's line (0: none). The document is
 * indexed once, when first asked: a 4 MiB file of broken lines is thousands of errors.
 */
export function syntaxPlaces(
  doc: Document.Parsed,
  text: string,
  at: (offset: number) => Position,
): (offset: number) => { path: readonly PathSegment[]; above: number } {
  let index: { anchors: Anchor[]; spans: Span[] } | undefined;
  return (offset) => {
    index ??= indexOf(doc, text, at);
    const { anchors, spans } = index;
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    let indent = 0;
    while (text[lineStart + indent] === ' ' || text[lineStart + indent] === '\t') indent++;
    const last = lastBefore(anchors, (anchor) => anchor.offset, lineStart);
    const above = last < 0 ? 0 : at(anchors[last].offset).line;
    if (offset - lineStart > indent) {
      // Mid-line: the innermost value that holds it, among the last to start before it and those around that.
      let i = lastBefore(spans, (span) => span.start, offset + 1);
      while (i >= 0 && spans[i].end < offset) i = spans[i].parent;
      return { path: i < 0 ? [] : spans[i].path, above };
    }
    // At the line's indentation: the last field above it that starts left of it.
    let i = last;
    while (i >= 0 && anchors[i].column > indent) i = anchors[i].parent;
    return { path: i < 0 ? [] : anchors[i].path, above };
  };
}

/**
 * The anchors and spans of a document, each list in the order it is written (a walk, not
 * recursion: a document may nest deep; each entry made as the walk reaches it, so in order).
 */
function indexOf(
  doc: Document.Parsed,
  text: string,
  at: (offset: number) => Position,
): { anchors: Anchor[]; spans: Span[] } {
  const anchors: Anchor[] = [];
  const spans: Span[] = [];
  /** A value to visit: `starts` is where its field is written (its key, its "- "), if it has one of its own. */
  type Visit = { node: unknown; path: PathSegment[]; starts: number; around: number; inside: number };
  const stack: Visit[] = [{ node: doc.contents, path: [], starts: -1, around: -1, inside: -1 }];
  while (stack.length > 0) {
    const { node, path, starts, around: outer, inside } = stack.pop() as Visit;
    const around =
      starts < 0
        ? outer
        : anchors.push({ offset: starts, column: at(starts).column, path, parent: outer }) - 1;
    const range = (node as Node | null)?.range;
    if (!range) continue;
    const span = spans.push({ start: range[0], end: range[2], path, parent: inside }) - 1;
    const children: Visit[] = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key) || !pair.key.range) continue;
        const child = [...path, pair.key.value as PathSegment];
        children.push({ node: pair.value, path: child, starts: pair.key.range[0], around, inside: span });
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) {
        const start = (item as Node | null)?.range?.[0];
        // A block item's "- ", spaces between (an item the parser made of a line without one has none).
        let dash = start === undefined || node.flow ? -1 : start - 1;
        while (dash >= 0 && (text[dash] === ' ' || text[dash] === '\t')) dash--;
        const own = dash >= 0 && text[dash] === '-';
        children.push({ node: item, path: [...path, i], starts: own ? dash : -1, around, inside: span });
      }
    }
    stack.push(...children.reverse());
  }
  return { anchors, spans };
}

/** The index of the last of `sorted` whose key is below `bound`; -1 for none. */
function lastBefore<T>(sorted: readonly T[], key: (item: T) => number, bound: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (key(sorted[middle]) < bound) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}
