import { RE2JS } from 're2js';
import type { FieldTest, RouteConditions, ValueTest } from '../../core/config/types.ts';

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

/** How many things a route tests beyond host and path: among routes of the same host and path, more goes first. */
export function conditionCount(conditions: RouteConditions | undefined): number {
  if (conditions === undefined) return 0;
  const { listeners, scheme, methods } = conditions;
  const kinds = [listeners, scheme, methods].filter((tested) => tested !== undefined).length;
  return kinds + conditions.headers.length + conditions.query.length;
}

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
    for (const { name, test } of headers) if (!test(headerValue(req.headers[name]))) return false;
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

function compileField(field: FieldTest): { name: string; test: (value: string | undefined) => boolean } {
  return { name: field.name, test: compileValueTest(field.test) };
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

/** Node joins most repeated request fields with ", "; the few it keeps as lists are read as one line too. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
