/**
 * A quote, `[` or `{` left open, told where it was opened. The parser gives up where it finally
 * knows the value cannot close: at the end of the file for a quote, at the next line back at the
 * key's indentation for a `[` or `{`. That line has nothing wrong on it, and the message
 * ("Flow sequence in block collection must be sufficiently indented and end with a ]") names
 * no field; the opening does both.
 */

import { type Document, isPair, isScalar, isSeq, type Node, visit } from 'yaml';
import type { PathSegment } from './schema.ts';

interface Unclosed {
  readonly kind: 'quote' | 'bracket';
  /** Where the quote or bracket is. */
  readonly offset: number;
  /** The field whose value it opens. */
  readonly path: readonly PathSegment[];
  readonly opener: string;
  readonly closer: string;
}

/**
 * The value a parser error at `at` is about when that error is one of an opening never closed:
 * the innermost quoted scalar or `[ ]`/`{ }` whose text runs up to where the parser gave up.
 */
export function unclosedAt(
  doc: Document.Parsed,
  code: string,
  message: string,
  at: number,
): Unclosed | undefined {
  const quote = code === 'MISSING_CHAR' && /^Missing closing (["'])quote$/.exec(message)?.[1];
  const flow = code === 'BAD_INDENT' && /^Flow (?:sequence|map) in block collection/.test(message);
  if (!quote && !flow) return undefined;
  let found: Unclosed | undefined;
  visit(doc, (_, node, ancestors) => {
    if (!isOpenedValue(node, quote || undefined) || node.range?.[1] !== at) return;
    const opener = quote || (isSeq(node) ? '[' : '{');
    const closer = opener === '[' ? ']' : opener === '{' ? '}' : opener;
    found = {
      kind: quote ? 'quote' : 'bracket',
      offset: node.range[0],
      path: pathOf([...ancestors, node]),
      opener,
      closer,
    };
  });
  return found;
}

/** What to do about it; `line` is where the parser gave up. */
export function unclosedMessage({ kind, opener, closer }: Unclosed, line: number): string {
  return kind === 'bracket'
    ? `this ${opener} has no closing ${closer} before line ${line}: close it, or indent the lines it holds past its key`
    : `this ${opener} has no closing ${closer} (the value runs on to the end of the file, line ${line})`;
}

function isOpenedValue(node: unknown, quote: string | undefined): node is Node {
  if (quote !== undefined)
    return isScalar(node) && node.type === (quote === '"' ? 'QUOTE_DOUBLE' : 'QUOTE_SINGLE');
  return (node as { flow?: boolean } | null)?.flow === true;
}

/** The config path of the last of `chain` (the document, then each node, pair and value to it). */
function pathOf(chain: readonly unknown[]): PathSegment[] {
  const path: PathSegment[] = [];
  for (const [i, node] of chain.entries()) {
    if (isPair(node) && isScalar(node.key)) path.push(node.key.value as PathSegment);
    else if (isSeq(node)) {
      const index = node.items.indexOf(chain[i + 1] as never);
      if (index >= 0) path.push(index);
    }
  }
  return path;
}
