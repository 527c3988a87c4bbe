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
  /** A bracket's wrong closer (`}` for `[`), where the file writes it; undefined when none. */
  readonly wrongCloser?: number;
}

/**
 * For the parser errors of `doc`, the value each is about when it is one of an opening never
 * closed: the innermost quoted scalar or `[ ]`/`{ }` whose text runs up to where the parser gave up.
 * The document is looked through once, for all of them: a file of thousands of `[` left open has
 * an error for each, and looking through it again for each took minutes.
 */
export function unclosedIn(
  doc: Document.Parsed,
  text: string,
): (code: string, message: string, at: number) => Unclosed | undefined {
  let openings: Map<string, Opening> | undefined;
  return (code, message, at) => {
    const quote = code === 'MISSING_CHAR' && /^Missing closing (["'])quote$/.exec(message)?.[1];
    const flow = code === 'BAD_INDENT' && /^Flow (?:sequence|map) in block collection/.test(message);
    if (!quote && !flow) return undefined;
    openings ??= openingsOf(doc);
    const found = openings.get(`${quote || 'flow'} ${at}`);
    if (found === undefined) return undefined;
    if (quote) {
      const path = pathOf([...found.ancestors, found.node]);
      return { kind: 'quote', offset: found.node.range![0], path, opener: quote, closer: quote };
    }
    // `oops: x` inside `[ ]` is a mapping of its own to the parser, with no `{` in the file: the
    // bracket left open is the nearest that the file writes.
    const chain = [...found.ancestors, found.node];
    let last = chain.length - 1;
    while (last > 0 && !isWrittenBracket(chain[last], text)) last--;
    const node = chain[last] as Node;
    const offset = node.range![0];
    const opener = text[offset] === '[' ? '[' : '{';
    const closer = opener === '[' ? ']' : '}';
    const wrongCloser = wrongCloserOf(text, offset, at);
    return {
      kind: 'bracket',
      offset,
      path: pathOf(chain.slice(0, last + 1)),
      opener,
      closer,
      ...(wrongCloser === undefined ? {} : { wrongCloser }),
    };
  };
}

/** Whether `node` is a flow collection whose text opens with the bracket it is written with. */
function isWrittenBracket(node: unknown, text: string): boolean {
  const range = (node as { flow?: boolean; range?: readonly number[] } | null)?.range;
  return (
    (node as { flow?: boolean } | null)?.flow === true && range !== undefined && '[{'.includes(text[range[0]])
  );
}

/**
 * The offset of the first `]` or `}` after the bracket at `open` (up to `end`, where the parser gave up) that closes
 * it or one inside it with the other bracket (`[ a, b }`); undefined when there is none. Quoted
 * text and comments hold no brackets.
 */
function wrongCloserOf(text: string, open: number, end: number): number | undefined {
  const stack = [text[open] === '[' ? ']' : '}'];
  for (let i = open + 1; i <= end && i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      // A quote left open is told as that; here, its text runs to its closing quote.
      for (i++; i < end && i < text.length; i++) {
        if (c === '"' && text[i] === '\\') i++;
        else if (text[i] === c) {
          if (c === "'" && text[i + 1] === "'") i++;
          else break;
        }
      }
    } else if (c === '#' && /\s/.test(text[i - 1] ?? ' ')) {
      while (i < end && i < text.length && text[i] !== '\n') i++;
    } else if (c === '[') stack.push(']');
    else if (c === '{') stack.push('}');
    else if (c === ']' || c === '}') {
      if (c !== stack.pop()) return i;
      if (stack.length === 0) return undefined;
    }
  }
  return undefined;
}

/** A quoted scalar or flow collection, with what leads to it from the document. */
interface Opening {
  readonly node: Node;
  readonly ancestors: readonly unknown[];
}

/**
 * Each quoted scalar and flow collection by its kind (`"`, `'` or `flow`) and the offset where it
 * ends. Of those ending at one place (each `[` of `[[[` left open), the innermost: visited last.
 */
function openingsOf(doc: Document.Parsed): Map<string, Opening> {
  const openings = new Map<string, Opening>();
  visit(doc, (_, node, ancestors) => {
    const kind = isScalar(node)
      ? { QUOTE_DOUBLE: '"', QUOTE_SINGLE: "'" }[node.type as string]
      : (node as { flow?: boolean } | null)?.flow === true
        ? 'flow'
        : undefined;
    // An empty value (`key:` alone) is visited as null.
    const range = kind === undefined ? undefined : (node as Node).range;
    if (range) openings.set(`${kind} ${range[1]}`, { node: node as Node, ancestors });
  });
  return openings;
}

/** What to do about it; `line` is where the parser gave up, `wrong` where a wrong closer is written. */
export function unclosedMessage(
  { kind, opener, closer }: Unclosed,
  line: number,
  wrong?: { readonly line: number; readonly column: number },
): string {
  if (wrong !== undefined)
    return `this ${opener} is closed with ${opener === '[' ? '}' : ']'} (line ${wrong.line}, column ${wrong.column}): close it with ${closer}`;
  return kind === 'bracket'
    ? `this ${opener} has no closing ${closer} before line ${line}: close it, or indent the lines it holds past its key`
    : `this ${opener} has no closing ${closer} (the value runs on to the end of the file, line ${line})`;
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
