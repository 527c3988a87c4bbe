/**
 * Lines built to make a log reader backtrack: a real line of the format (its first, and its
 * first 5xx), cut at places, then one piece repeated to a quarter or a whole MiB. The pieces are
 * what the formats' patterns look for (delimiters, field labels, the words of error messages)
 * and what made earlier readers slow: `a=""` after nginx's combined (two ways to read it, so
 * exponential), `, request: "` in an nginx error line and `lookup a on b: ` in Caddy's
 * (an unanchored pattern scanning to the end from each one, so quadratic).
 */

const PIECES = [
  ' a=""',
  ' "',
  '"',
  ' ',
  'a',
  '\\"',
  '=',
  ',',
  ':',
  '/',
  '0',
  '-1/',
  ', request: "',
  ', upstream: "',
  ', client: ',
  'upstream timed out ',
  'SSL_do_handshake() failed ',
  'recv() failed (1: ',
  'could not be resolved (1: ',
  'connect() to ',
  'lookup a on b: ',
  'dial tcp a->',
  '->',
  '{"',
  '":"',
  '[',
  '%',
  'x\\u001b',
];

const SMALL = 256 * 1024;
const LARGE = 1024 * 1024;

/** A few lines of `seeds` worth building on: the first, and the first with a 5xx in it. */
function seedsOf(lines: readonly string[]): string[] {
  const first5xx = lines.find((line) => /[" :]5\d\d[ ,"}]/.test(line));
  return [...new Set([lines[0], first5xx].filter((line): line is string => line !== undefined))];
}

/** Where to cut a seed: nowhere, at its start, and at a few places between. */
const cutsOf = (seed: string) => [
  ...new Set([0, 1, seed.length >> 2, seed.length >> 1, (seed.length * 3) >> 2, seed.length]),
];

/** The keys of a JSON line's text fields, or none when the line is not a JSON object. */
function jsonTextFields(line: string): string[] {
  if (!line.startsWith('{')) return [];
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return Object.keys(value).filter((key) => typeof value[key] === 'string');
  } catch {
    return [];
  }
}

// Built once per piece and size, then shared by every line that repeats it: the lines are the
// same, only not built again for each (building them took more time than reading them).
const filled = new Map<string, string>();
function fill(piece: string, size: number): string {
  const key = `${size} ${piece}`;
  let repeat = filled.get(key);
  if (repeat === undefined) {
    repeat = piece.repeat(Math.ceil(size / piece.length));
    filled.set(key, repeat);
  }
  return repeat;
}

const quoted = new Map<string, string>();
/** `JSON.stringify(fill(piece, size))`, once per piece and size. */
function quotedFill(piece: string, size: number): string {
  const key = `${size} ${piece}`;
  let text = quoted.get(key);
  if (text === undefined) {
    text = JSON.stringify(fill(piece, size));
    quoted.set(key, text);
  }
  return text;
}

const MARK = '\u0000hostile-lines\u0000';
/**
 * `JSON.stringify({ ...JSON.parse(seed), [field]: fill(piece, size) })`, the same text, built by
 * putting the repeat's JSON text where a mark stood instead of escaping the repeat again per line.
 */
function withField(seed: string, field: string, piece: string, size: number): string {
  const [before, after, ...more] = JSON.stringify({ ...JSON.parse(seed), [field]: MARK }).split(
    JSON.stringify(MARK),
  );
  if (after === undefined || more.length > 0) throw new Error(`the mark is not once in ${seed}`);
  return before + quotedFill(piece, size) + after;
}

/** The adversarial lines for a format whose real lines are `lines`. */
export function* adversarialLines(lines: readonly string[]): Generator<string> {
  for (const seed of seedsOf(lines)) {
    for (const cut of cutsOf(seed)) {
      const head = seed.slice(0, cut);
      for (const piece of PIECES) {
        yield head + fill(piece, SMALL);
        // The rest of the line after the repeat: a line that fails late is the worst case.
        yield head + fill(piece, SMALL) + seed.slice(cut);
      }
    }
    for (const piece of PIECES) {
      // A line that reads well to its end, then fails there: a pattern with two ways to read
      // the repeat tries them all before it gives up.
      yield seed + fill(piece, SMALL) + ' "';
      // A JSON line with a piece repeated in each of its text fields (Caddy's msg, Envoy's flags...).
      for (const field of jsonTextFields(seed)) yield withField(seed, field, piece, SMALL);
    }
    // A line a reader accepts, whose last field is a MiB of the pieces that stress it most.
    for (const piece of [
      ' a=""',
      ', request: "',
      ', upstream: "',
      'lookup a on b: ',
      'dial tcp a->',
      'recv() failed (1: ',
    ]) {
      yield seed + fill(piece, LARGE);
      for (const field of jsonTextFields(seed)) yield withField(seed, field, piece, LARGE);
    }
  }
}
