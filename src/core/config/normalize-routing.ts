/**
 * The runtime form of a route's matching and policy fields (see normalize.ts for the rest):
 * header names lower-cased, templates split into text and variables, patterns kept as text
 * (the config is sent to workers and shown by GET /config: compiled patterns live with the
 * router and the rewrite, built from these).
 */

import { accepted } from './accepted.ts';
import { parseRoutePath } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import { parseHeaderTemplate, routeMethods } from './routing-values.ts';
import type { RawConfig } from './schema.ts';
import type {
  FieldTest,
  HeaderRule,
  HeaderRules,
  RedirectConfig,
  RewriteConfig,
  RouteConditions,
  ValueTest,
} from './types.ts';

type RawRoute = RawConfig['routes'][number];
type RawMatch = NonNullable<RawRoute['match']>;
type RawValueTest = NonNullable<RawMatch['headers']>[string];
type RawHeaderRules = NonNullable<RawRoute['request_headers']>;

/** Absent when the route tests nothing but host and path: the router's fast path. */
export function toConditions(raw: RawMatch | undefined): RouteConditions | undefined {
  if (
    raw === undefined ||
    (raw.listener === undefined &&
      raw.scheme === undefined &&
      raw.methods === undefined &&
      raw.headers === undefined &&
      raw.query === undefined)
  )
    return undefined;
  const fields = (tests: Record<string, RawValueTest> | undefined, lower: boolean): FieldTest[] =>
    Object.entries(tests ?? {}).map(([name, test]) => ({
      name: lower ? name.toLowerCase() : name,
      test: toValueTest(test),
    }));
  const listeners = typeof raw.listener === 'string' ? [raw.listener] : raw.listener;
  return {
    ...(listeners === undefined ? {} : { listeners: [...new Set(listeners)] }),
    ...(raw.scheme === undefined ? {} : { scheme: raw.scheme }),
    ...(raw.methods === undefined ? {} : { methods: routeMethods(raw.methods) }),
    headers: fields(raw.headers, true),
    query: fields(raw.query, false),
  };
}

function toValueTest(raw: RawValueTest): ValueTest {
  if (typeof raw === 'string') return { kind: 'value', value: raw };
  if ('regex' in raw) return { kind: 'regex', pattern: raw.regex };
  return { kind: 'present', present: raw.present };
}

export function toRewrite(raw: RawRoute['rewrite']): RewriteConfig | undefined {
  if (raw === undefined) return undefined;
  if (raw.prefix !== undefined) return { kind: 'prefix', prefix: accepted(parseRoutePath(raw.prefix)) };
  return { kind: 'regex', pattern: raw.regex ?? '', replace: raw.replace ?? '' };
}

export function toRedirect(raw: RawRoute['redirect']): RedirectConfig | undefined {
  if (raw === undefined) return undefined;
  const status = raw.status ?? DEFAULTS.route.redirectStatus;
  if (raw.location !== undefined) return { kind: 'location', location: raw.location, status };
  return {
    kind: 'origin',
    ...(raw.scheme === undefined ? {} : { scheme: raw.scheme }),
    ...(raw.port === undefined ? {} : { port: raw.port }),
    status,
  };
}

export function toHeaderRules(raw: RawHeaderRules | undefined): HeaderRules | undefined {
  if (raw === undefined) return undefined;
  const rules = (values: Record<string, string> | undefined): HeaderRule[] =>
    Object.entries(values ?? {}).map(([name, value]) => ({
      name,
      lower: name.toLowerCase(),
      value: accepted(parseHeaderTemplate(value)),
    }));
  return {
    set: rules(raw.set),
    add: rules(raw.add),
    remove: (raw.remove ?? []).map((name) => name.toLowerCase()),
  };
}
