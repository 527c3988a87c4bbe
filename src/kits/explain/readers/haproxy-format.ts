/**
 * HAProxy's log-format strings (configuration manual, "Custom log format"): parsed into pieces
 * as HAProxy compiles them, and a line read back into its values by walking those pieces.
 */

/**
 * A HAProxy `log-format` (configuration manual, "Custom log format"): its name (the section it
 * is set in) and its string as HAProxy reads it (the config's quotes and escapes removed).
 */
export interface HaproxyFormat {
  readonly name: string;
  readonly text: string;
}

/** The tags HAProxy's log-format knows (2.6 to 3.x); any other is an error, as HAProxy says. */
const NUMBERS = new Set(
  'B ST Ta Tc Td Th Ti Tq Tr TR Ts Tt Tu Tw U ac bc bp bq cp fc fp lc ms pid rc rt sc sp sq'.split(' '),
);
const STRINGS = new Set('CC CS H ID HM HP HPO HQ HU HV b f ft hrl hsl s sslc sslv'.split(' '));
const IPS = new Set(['ci', 'fi', 'bi', 'si']);

// Values whose shape says where they end (a date holds a space; an unquoted request line two).
const DATE_MS = '\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d\\.\\d{3}';
const DATE_ZONE = '\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}';
const SHAPES: Readonly<Record<string, string>> = {
  t: DATE_MS,
  tr: DATE_MS,
  T: DATE_ZONE,
  trg: DATE_ZONE,
  Tl: DATE_ZONE,
  trl: DATE_ZONE,
  tsc: '[A-Za-z-]{4}',
  ts: '[A-Za-z-]{2}',
  ms: '\\d{3}',
  r: '<BADREQ>|\\S+ \\S+(?: \\S+)?',
  // Captured headers: "{a|b}", or nothing at all when none are captured.
  hr: '(?:\\{[^}]*\\})?',
  hs: '(?:\\{[^}]*\\})?',
};
/** Fixed-width values: another value may follow them with nothing between. */
const FIXED = new Set(['t', 'tr', 'T', 'trg', 'Tl', 'trl', 'tsc', 'ts', 'ms']);
const KNOWN = new Set([...NUMBERS, ...STRINGS, ...IPS, ...Object.keys(SHAPES)]);

export type Piece =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'space' }
  | { readonly kind: 'value'; readonly tag?: string; readonly quoted: boolean; readonly hex: boolean };

class HaproxyFormatError extends Error {}

/** The flags of "%{+Q,-X}": `base` (what %o set) changed by each. */
function flagsOf(args: string, base: { quoted: boolean; hex: boolean }) {
  const flags = { ...base };
  for (const arg of args.split(',')) {
    const on = arg[0] === '+';
    if (arg.slice(1) === 'Q') flags.quoted = on;
    if (arg.slice(1) === 'X') flags.hex = on;
  }
  return flags;
}

/** The end of a sample expression "%[…]" begun at `from`: the "]" outside its parentheses. */
function exprEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ']' && depth <= 0) return i;
  }
  return -1;
}

/**
 * A log-format string as HAProxy compiles it: `%tag`, `%{flags}tag`, `%[sample]`, `%o` (flags
 * for all that follow), `%%`; a run of spaces is one separator (HAProxy writes it once, and not
 * after a value that wrote nothing). Throws HaproxyFormatError on what HAProxy refuses too.
 */
export function parseHaproxyFormat(text: string): Piece[] {
  const pieces: Piece[] = [];
  let defaults = { quoted: false, hex: false };
  let literal = '';
  const flush = () => {
    if (literal !== '') pieces.push({ kind: 'text', text: literal });
    literal = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ') {
      flush();
      if (pieces.at(-1)?.kind !== 'space') pieces.push({ kind: 'space' });
      i++;
      continue;
    }
    if (c !== '%') {
      literal += c;
      i++;
      continue;
    }
    if (text[i + 1] === '%') {
      literal += '%';
      i += 2;
      continue;
    }
    let j = i + 1;
    // "%(name)" or "%(name:type)" (HAProxy 3.0): a name for encoders; no bearing on the text.
    if (text[j] === '(') {
      const close = text.indexOf(')', j);
      if (close === -1) throw new HaproxyFormatError(`truncated line after '${text.slice(i)}'`);
      j = close + 1;
    }
    let args = '';
    if (text[j] === '{') {
      const close = text.indexOf('}', j);
      if (close === -1) throw new HaproxyFormatError(`truncated line after '${text.slice(i)}'`);
      args = text.slice(j + 1, close);
      j = close + 1;
    }
    const flags = flagsOf(args, defaults);
    flush();
    if (text[j] === '[') {
      const close = exprEnd(text, j + 1);
      if (close === -1) throw new HaproxyFormatError(`missing ']' after '${text.slice(j + 1)}'`);
      pieces.push({ kind: 'value', ...flags });
      i = close + 1;
      continue;
    }
    const name = /^[A-Za-z][A-Za-z0-9]*/.exec(text.slice(j, j + 8))?.[0];
    if (name === undefined)
      throw new HaproxyFormatError(
        `unexpected tag name near '${text.slice(i, i + 2)}': a single '%' is written '%%'`,
      );
    if (name === 'o') defaults = flags;
    else if (!KNOWN.has(name)) throw new HaproxyFormatError(`no such format tag '%${name}'`);
    else pieces.push({ kind: 'value', tag: name, ...flags });
    i = j + name.length;
  }
  flush();
  return pieces;
}

/** Values written side by side with nothing between them where the first can end anywhere ("%b%s"). */
function runTogether(pieces: readonly Piece[]): string[] {
  const pairs: string[] = [];
  for (let i = 0; i + 1 < pieces.length; i++) {
    const [a, b] = [pieces[i], pieces[i + 1]];
    if (a.kind === 'value' && b.kind === 'value' && !(a.tag && FIXED.has(a.tag)))
      pairs.push(`%${a.tag ?? '[…]'}%${b.tag ?? '[…]'}`);
  }
  return pairs;
}

/** Why a format cannot be read at all (HAProxy would refuse it, no %ST, values run together), or undefined. */
export function unreadableHaproxy(format: HaproxyFormat): string | undefined {
  let pieces: Piece[];
  try {
    pieces = parseHaproxyFormat(format.text);
  } catch (err) {
    if (err instanceof HaproxyFormatError) return `log-format ${format.name}: ${err.message}`;
    throw err;
  }
  const pairs = runTogether(pieces);
  if (pairs.length > 0)
    return `log-format ${format.name} writes ${pairs.join(', ')} with nothing between them: explain cannot tell where one ends, and cannot read it`;
  if (!pieces.some((p) => p.kind === 'value' && p.tag === 'ST'))
    return `log-format ${format.name} has no %ST (the status): explain cannot read it`;
  return undefined;
}

/** Whether a string is a HAProxy log-format rather than an nginx log_format ("%ST" against "$status"). */
export const isHaproxyFormat = (text: string): boolean =>
  !/\$(?:\{\w+\}|\w+)/.test(text) && /%(?:\([^)]*\))?(?:\{[^}]*\})?(?:\[|[A-Za-z])/.test(text);

const sticky = new Map<string, RegExp>();
function shapeAt(line: string, at: number, source: string): number | undefined {
  let re = sticky.get(source);
  if (re === undefined) {
    re = new RegExp(`(?:${source})`, 'y');
    sticky.set(source, re);
  }
  re.lastIndex = at;
  return re.exec(line) === null ? undefined : re.lastIndex;
}

/**
 * The values of a line written in `pieces` (tag → value), read left to right without going
 * back: each value ends where its shape does, or at what follows it in the format (the next
 * literal text, the next space, the line's end). Linear in the line; undefined if it does not fit.
 */
export function fieldsOf(pieces: readonly Piece[], line: string): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  let p = 0;
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k];
    if (piece.kind === 'space') {
      if (line[p] === ' ') p++;
      continue;
    }
    if (piece.kind === 'text') {
      if (!line.startsWith(piece.text, p)) return undefined;
      p += piece.text.length;
      continue;
    }
    let value: string;
    if (piece.quoted && line[p] === '"') {
      const close = line.indexOf('"', p + 1);
      if (close === -1) return undefined;
      value = line.slice(p + 1, close);
      p = close + 1;
    } else {
      const shape =
        piece.tag === undefined
          ? undefined
          : (SHAPES[piece.tag] ??
            (NUMBERS.has(piece.tag) ? (piece.hex ? '[+-]?[0-9A-Fa-f]+' : '[+-]?\\d+') : undefined));
      let end: number;
      if (shape !== undefined) {
        const at = shapeAt(line, p, shape);
        if (at === undefined) return undefined;
        end = at;
      } else {
        const next = pieces[k + 1];
        if (next === undefined) end = line.length;
        else if (next.kind === 'space') end = line.indexOf(' ', p);
        else if (
          next.kind === 'text' &&
          piece.tag !== undefined &&
          IPS.has(piece.tag) &&
          next.text[0] === ':'
        ) {
          // "%ci:%cp" with an IPv6 address: the port follows the last ":" of the word.
          const word = line.indexOf(' ', p);
          end = line.lastIndexOf(':', (word === -1 ? line.length : word) - 1);
          if (end < p) end = -1;
        } else if (next.kind === 'text') end = line.indexOf(next.text, p);
        else return undefined;
        if (end === -1) end = next?.kind === 'space' ? line.length : -1;
        if (end === -1) return undefined;
      }
      value = line.slice(p, end);
      p = end;
    }
    if (piece.tag !== undefined) fields.set(piece.tag, value);
  }
  while (line[p] === ' ') p++;
  return p === line.length ? fields : undefined;
}
