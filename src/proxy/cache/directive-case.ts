import CachePolicy from 'http-cache-semantics';

/**
 * Cache-Control directive names are case-insensitive (RFC 9111 §5.2), and http-cache-semantics
 * reads them as they are written: an upstream's `Private, max-age=60` or `No-Store, max-age=60`
 * was kept and given to every client, and a client's `No-Cache` got the stored answer.
 */

/**
 * The policy with its answer's and its request's directives named in lowercase, each answer's
 * directive as it first comes: a directive given twice (`max-age=0, max-age=600`, two layers of an
 * application each adding its own) counts as its first (§4.2.1), where the library took the last.
 */
export function caseless(policy: CachePolicy): CachePolicy {
  const stored = policy.toObject();
  const raw = stored.resh['cache-control'];
  // Without Cache-Control, the library's own (a Pragma: no-cache it read as no-cache).
  const rescc = raw === undefined ? lowered(stored.rescc) : understood(firstOfEach(String(raw)));
  return CachePolicy.fromObject({ ...stored, rescc, reqcc: lowered(stored.reqcc) });
}

/**
 * The answer's own Cache-Control (flat [name, value, …] fields, repeated ones joined as headersOf
 * joins them) forbids a shared cache to keep it: `private` or `no-store`, each read as caseless
 * reads it (its first, by lowercase name). keptPolicy asks this before it makes a policy: an answer
 * that says so is never kept, whatever the route grants, and pays for no stored entry's reading.
 */
export function forbidsSharedStore(fields: readonly string[]): boolean {
  let raw: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.length !== 13 || name.toLowerCase() !== 'cache-control') continue;
    raw = raw === undefined ? fields[i + 1] : `${raw}, ${fields[i + 1]}`;
  }
  if (raw === undefined) return false;
  const directives = understood(firstOfEach(raw));
  return 'private' in directives || 'no-store' in directives;
}

/**
 * `must-understand` (RFC 9111 §5.2.2.3): a cache that understands the status's caching rules
 * SHOULD ignore the answer's `no-store`, which the origin adds for caches that do not know the
 * directive. Those the library understands are all it stores (its storable(): 200, 203, 204,
 * 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501), any other status is never kept, so the
 * directive's `no-store` goes and what is stored stays the library's to say.
 */
function understood(directives: Record<string, string>): Record<string, string> {
  if ('must-understand' in directives) delete directives['no-store'];
  return directives;
}

/**
 * Cache-Control's directives as the library parses them (a quoted argument unquoted), by
 * lowercase name, the first of each. An empty argument (`no-store=""`, `private=`) is read as
 * none: the library tests a directive by its truth, and read as `''` an upstream's
 * `no-store=""` was kept and given to everyone, its `private=""` too, where the directive is
 * there all the same (RFC 9111 §4.2.1: the most restrictive reading; nginx keeps neither).
 * A `;` parts directives as a `,` does: `private; max-age=0` is a common slip, which the library
 * read as one directive `private; max-age` (and `max-age=60;private` as a max-age that is no
 * number), so one user's page was kept to stand in for a 5xx for everyone; nginx finds the word.
 * So does whitespace between two directives (`max-age=60 private`, `no-cache no-store`), which no
 * directive holds (a name is a token, §5.2): not whitespace beside a `=` (`max-age = 60` is read
 * as before), nor an empty part's name.
 */
function firstOfEach(value: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  // A quoted argument's commas, semicolons and spaces are its own (RFC 9110 §5.6.4): each quoted
  // string stands aside while the directives are parted (`ext="a, max-age=3600", max-age=0` is
  // two, its max-age 0), then comes back whole. A field value holds no NUL to mistake for one.
  const quoted: string[] = [];
  const bare = value.includes('"')
    ? value.replace(QUOTED_STRING, (text) => `\0${quoted.push(text) - 1}\0`)
    : value;
  for (const held of bare.trim().split(DIRECTIVE_BREAK)) {
    const part =
      quoted.length === 0 ? held : held.replace(QUOTE_HELD, (_all, i: string) => quoted[Number(i)]);
    const at = part.indexOf('=');
    const name = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase();
    if (name === '' || Object.hasOwn(out, name)) continue;
    const argument =
      at === -1
        ? ''
        : part
            .slice(at + 1)
            .trim()
            .replace(/^"|"$/g, '');
    // The library's `true` for a directive without an argument, which its type calls a string.
    if (argument === '') out[name] = true as unknown as string;
    else out[name] = DELTA_SECONDS.has(name) ? deltaSeconds(argument) : argument;
  }
  return out;
}

/** A quoted-string (RFC 9110 §5.6.4): its quotes, and within them `\\` escaping any character. */
const QUOTED_STRING = /"(?:[^"\\]|\\.)*"/g;

/** Where a quoted string stood aside while firstOfEach parted the directives: its index, between NULs. */
const QUOTE_HELD = /\0(\d+)\0/g;

/** What parts two directives: a `,`, a `;`, or whitespace with no `=` on either side of it. */
const DIRECTIVE_BREAK = /[,;]|(?<![=\s])\s+(?![=\s])/;

/**
 * The directives whose argument is a number of seconds (RFC 9111 §1.2.2: digits, nothing else).
 * The library reads them with parseInt, so `max-age=60abc` was 60 and `1e3` 1: freshness the
 * origin never wrote. One that does not read grants none (§4.2.1 encourages taking "invalid
 * freshness information" as stale), its directive still there (an `s-maxage` still binds).
 * `stale-if-error` is read apart (stored-answer.ts): one that names no number leaves the route's cap.
 */
const DELTA_SECONDS = new Set(['max-age', 's-maxage', 'stale-while-revalidate']);

/** The greatest delta-seconds a cache counts (RFC 9111 §1.2.2): one past it "MUST" be taken as it. */
const MOST_SECONDS = 2 ** 31;

/**
 * A delta-seconds argument as the policy reads it: `0` for one that is no number of seconds
 * (DELTA_SECONDS), 2^31 for one past it (§1.2.2). Read as it came, `max-age=1` and 22 zeros made
 * Cache-Status's ttl `1e+23`, no Structured Field integer (RFC 8941 §3.3.1: 15 digits at most),
 * and 400 digits, Infinity, an answer never fresh.
 */
function deltaSeconds(argument: string): string {
  if (!/^\d+$/.test(argument)) return '0';
  return Number(argument) > MOST_SECONDS ? String(MOST_SECONDS) : argument;
}

function lowered(cc: Record<string, string>): Record<string, string> {
  // No prototype: a directive named `__proto__` is a directive, not the object's prototype.
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(cc)) {
    const lower = name.toLowerCase();
    if (!Object.hasOwn(out, lower)) out[lower] = value;
  }
  return out;
}

/**
 * A Cache-Control value with each quoted argument's separators (whitespace, `,`, `;`, `=`) made `_`:
 * what a test for a directive's word reads, so that a word inside another directive's quotes
 * (`ext="a, no-cache, b"`) is no directive (RFC 9110 §5.6.4). The same value when it has no quote.
 */
export function outsideQuotes(value: string): string {
  return value.includes('"') ? value.replace(QUOTED_STRING, (text) => text.replace(/[\s,;=]/g, '_')) : value;
}

/** A request's Cache-Control with its directive names in lowercase (their arguments as they are). */
export function lowerDirectiveNames(value: string): string {
  return value.replace(/(^|,)([^=,]*)/g, (_all, comma: string, name: string) => comma + name.toLowerCase());
}
