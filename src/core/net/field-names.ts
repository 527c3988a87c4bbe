/**
 * A received field name in lower case, as the one string the source spells for a well-known name.
 *
 * Why: a field map (downstream.ts's fieldMap) is an object keyed by these names, and a name fresh
 * from the parser is a new string each request. V8's inline cache for `out[name]` compares names
 * by identity: with a fresh string it misses every time (a call into the runtime to find the
 * string's interned twin and to update the cache), some 450 ns for a request with only `Host`
 * (measured in isolation; 1.7 % of the worker's CPU under perf in the c50 keep-alive bench). The
 * spelled string is interned once, when the module loads, and hits. A name not listed costs what
 * it did (`toLowerCase()` and the miss), and a Map lookup that finds nothing. So it serves a map
 * that takes every field; a loop that looks for one or two names by their length first does
 * better with `toLowerCase()` on those alone.
 */

/** The request fields most clients send, and those Candor reads or adds itself. */
const WELL_KNOWN = [
  'accept',
  'accept-encoding',
  'accept-language',
  'authorization',
  'cache-control',
  'connection',
  'content-length',
  'content-type',
  'cookie',
  'dnt',
  'expect',
  'forwarded',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'keep-alive',
  'origin',
  'pragma',
  'priority',
  'proxy-authorization',
  'range',
  'referer',
  'sec-fetch-dest',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-user',
  'te',
  'traceparent',
  'tracestate',
  'transfer-encoding',
  'upgrade',
  'upgrade-insecure-requests',
  'user-agent',
  'via',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'x-request-id',
] as const;

/** Each well-known name by its lower-case spelling and by its usual one ("User-Agent", "TE"). */
const BY_SPELLING: ReadonlyMap<string, string> = new Map(
  WELL_KNOWN.flatMap((name) => [
    [name, name],
    [usualSpelling(name), name],
  ]),
);

function usualSpelling(name: string): string {
  if (name === 'te' || name === 'dnt') return name.toUpperCase();
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** `name` in lower case: for a well-known name spelled in lower case or its usual way, the interned literal. */
export function lowerFieldName(name: string): string {
  return BY_SPELLING.get(name) ?? name.toLowerCase();
}
