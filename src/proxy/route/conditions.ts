import { RE2JS } from 're2js';
import type { FieldTest, RouteConditions, RouteConfig, ValueTest } from '../../core/config/types.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import { FIRST_WINS, type FieldMap, joinedValue } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';

/**
 * What a route's conditions read of a request: the name of the listener it came in on, that
 * listener's scheme, its method and its headers (lower-cased names).
 */
export interface RouteRequest {
  readonly listener?: string;
  readonly scheme?: string;
  readonly method?: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Whether a request meets a route's conditions; the path is the origin-form target, query included. */
export type ConditionTest = (req: RouteRequest, path: string) => boolean;

/**
 * Built once per config. Patterns run on RE2's linear-time engine (the loader refused what it
 * cannot run), so no header a client sends can make a match take more than linear time.
 */
export function compileConditions(conditions: RouteConditions): ConditionTest {
  const { listeners, scheme, methods } = conditions;
  const headers = conditions.headers.map(compileField);
  const query = conditions.query.map(compileField);
  return (req, path) => {
    if (listeners !== undefined && !listeners.includes(req.listener ?? '')) return false;
    if (scheme !== undefined && req.scheme !== scheme) return false;
    if (methods !== undefined && !methods.includes(req.method ?? '')) return false;
    for (const { name, test } of headers) if (!test(joinedValue(req.headers[name]))) return false;
    if (query.length === 0) return true;
    const q = path.indexOf('?');
    const params = new URLSearchParams(q === -1 ? '' : path.slice(q + 1));
    for (const { name, test } of query) if (!test(params.get(name) ?? undefined)) return false;
    return true;
  };
}

/**
 * The path with its query's pairs in reverse order, so that the conditions, which read a name's
 * first value, read its last; undefined when no name is given twice (the common case: then
 * either reading is the same). A server reads a repeated name's first (Go, Flask) or its last
 * (PHP, Rails): route-request.ts refuses a query the two readings route apart.
 *
 * @example lastValuesFirst('/app?debug=0&debug=1') // '/app?debug=1&debug=0'
 */
export function lastValuesFirst(path: string): string | undefined {
  const q = path.indexOf('?');
  if (q === -1) return undefined;
  const pairs = [...new URLSearchParams(path.slice(q + 1))];
  if (new Set(pairs.map(([name]) => name)).size === pairs.length) return undefined;
  return `${path.slice(0, q)}?${new URLSearchParams(pairs.reverse())}`;
}

/**
 * The path with its query's names as PHP reads them into `$_GET` (php_register_variable_ex):
 * leading spaces dropped, then each " " and "." before the first "[" as "_", and a "[" that no
 * "]" closes as "_" too (the rest then as it is); a closed one names an array, kept as sent.
 * Undefined when no name reads otherwise (the common case: one look at the query).
 *
 * @example phpNames('/app?%20debug=1&trace.id=7') // '/app?debug=1&trace_id=7'
 */
export function phpNames(path: string): string | undefined {
  const q = path.indexOf('?');
  if (q === -1 || !/[ .+[%]/.test(path.slice(q + 1))) return undefined;
  let changed = false;
  const read = [...new URLSearchParams(path.slice(q + 1))].map(([name, value]): [string, string] => {
    const php = phpName(name);
    if (php !== name) changed = true;
    return [php, value];
  });
  return changed ? `${path.slice(0, q)}?${new URLSearchParams(read)}` : undefined;
}

/** One name as PHP reads it (phpNames). */
function phpName(name: string): string {
  const trimmed = name.replace(/^ +/, '');
  const bracket = trimmed.indexOf('[');
  const head = (bracket === -1 ? trimmed : trimmed.slice(0, bracket)).replace(/[ .]/g, '_');
  if (bracket === -1) return head;
  const rest = trimmed.slice(bracket);
  return rest.includes(']') ? head + rest : `${head}_${rest.slice(1)}`;
}

function compileField(field: FieldTest): { name: string; test: (value: string | undefined) => boolean } {
  if (field.name !== 'host') return { name: field.name, test: compileValueTest(field.test) };
  // Host is read as match.host reads it (lower-cased, no port, no trailing dot, an IP address
  // canonical), an exact value written in the config too: `ADMIN.example`, `admin.example.` and
  // `admin.example:80` are the upstream's `admin.example`, and read as sent they would miss its
  // route, and its policy, for the catch-all.
  const written = field.test;
  const test = compileValueTest(
    written.kind === 'value' ? { ...written, value: hostnameOf(written.value) } : written,
  );
  return { name: field.name, test: (value) => test(value === undefined ? undefined : hostnameOf(value)) };
}

function compileValueTest(test: ValueTest): (value: string | undefined) => boolean {
  switch (test.kind) {
    case 'value':
      return (value) => value === test.value;
    case 'present':
      return (value) => (value !== undefined) === test.present;
    case 'regex': {
      const pattern = RE2JS.compile(test.pattern);
      return (value) => value !== undefined && pattern.test(value);
    }
  }
}

/**
 * The header fields some route tests (`match.headers`), but `host` and `cookie`: HTTP/2 splits a Cookie
 * into a field per pair (RFC 9113 §8.2.3), and every server reads them joined, as the conditions do.
 */
export function testedHeaders(routes: readonly RouteConfig[]): readonly string[] {
  const names = new Set<string>();
  // `host` is the authority the request is for, one whatever its fields (a second Host is refused).
  for (const route of routes)
    for (const { name } of route.conditions?.headers ?? [])
      if (name !== 'cookie' && name !== 'host') names.add(name);
  return [...names];
}

/**
 * The request's fields with each tested field it repeats read as its first line, and as its
 * last (the conditions read the lines joined, or the first alone for a field node:http keeps
 * once): a server reads one or the other (Go's Header.Get the first), and route-request.ts
 * refuses a request the readings route apart. Undefined when no tested field is repeated: a
 * field whose value holds no ", " was sent once, so only such a value (or a field kept once)
 * has the request's lines looked at. A line of a tested field spelled with `_` for `-` (or the
 * other way) counts as one of its lines (`spelled`): WSGI, Rack and PHP read `X_Debug` as
 * `X-Debug` (cgi-spelling.ts), and the gateway forwards it as it came, so such an app would act
 * on a value no route judged (`X_Debug: 1` alone went to the catch-all, past the debug route).
 */
export function repeatReadings(
  raw: readonly string[],
  fields: FieldMap,
  tested: readonly string[],
): { readonly first: FieldMap; readonly last: FieldMap; readonly spelled: boolean } | undefined {
  let first: Record<string, string | string[] | undefined> | undefined;
  let last: Record<string, string | string[] | undefined> | undefined;
  let spelled = false;
  // Rare: most heads have no name with `_`, and then only repeats are looked for.
  const underscores = hasUnderscoreName(raw);
  for (const name of tested) {
    const value = fields[name];
    const respelled = underscores || name.includes('_');
    if (
      !respelled &&
      (value === undefined || (typeof value === 'string' && !FIRST_WINS.has(name) && !value.includes(', ')))
    )
      continue;
    const key = cgiSpelling(name);
    let firstLine: string | undefined;
    let lastLine: string | undefined;
    let lines = 0;
    let otherSpelling = false;
    for (let i = 0; i < raw.length; i += 2) {
      // `_` for `-` keeps the length: a name of another length is neither spelling.
      if (raw[i].length !== name.length) continue;
      const lower = raw[i].toLowerCase();
      if (lower !== name && !(respelled && cgiSpelling(lower) === key)) continue;
      if (lower !== name) otherSpelling = true;
      firstLine ??= raw[i + 1];
      lastLine = raw[i + 1];
      lines++;
    }
    if (lines < 2 && !otherSpelling) continue;
    if (otherSpelling) spelled = true;
    first ??= { ...fields };
    last ??= { ...fields };
    first[name] = firstLine;
    last[name] = lastLine;
  }
  return first === undefined || last === undefined ? undefined : { first, last, spelled };
}

/** Whether a field name of the head has a `_` (one a CGI-style app reads as another spelling). */
function hasUnderscoreName(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].includes('_')) return true;
  return false;
}
