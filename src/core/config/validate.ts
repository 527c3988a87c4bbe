/**
 * Runs the schema over the document and turns each failure into a problem an operator can
 * act on: which field, what was expected, what was found.
 */

import type { TSchema } from '@sinclair/typebox';
// `Errors` from its own entry, not `Value.Errors` (the same function, re-exported): the `value`
// entry loads all of TypeBox's value operations (cast, clean, diff, patch, hash…), 35 modules
// more in every process that reads a config, none of them used.
import { Errors, type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { unknownFieldMessage } from '../did-you-mean.ts';
import { aLabelAdvice } from './a-label.ts';
import { describeValue } from './describe-value.ts';
import { FORMAT, FORMAT_PROBLEMS, SIZE_EXPECTED } from './formats.ts';
import type { Report } from './report.ts';
import { ConfigSchema, type PathSegment } from './schema.ts';
import { durationAdvice, sizeAdvice } from './units.ts';

export function checkSchema(value: unknown, report: Report): void {
  for (const error of Errors(ConfigSchema, value)) {
    const path = pointerToPath(error.path, value);
    const field = String(path.at(-1));
    switch (error.type) {
      case ValueErrorType.ObjectAdditionalProperties:
        // A mapping whose keys follow a pattern (cache.lifetimes' statuses) has no fields to
        // name: what it expects says which keys it takes.
        if (error.schema.properties === undefined && error.schema.expected !== undefined)
          report(path, `unknown key '${field}': expected ${error.schema.expected}`, 'key');
        else report(path, unknownFieldMessage(field, Object.keys(error.schema.properties ?? {})), 'key');
        break;
      case ValueErrorType.ObjectRequiredProperty:
        report(path, `missing required field '${field}'${includedAlone(path, value)}`, 'parent');
        break;
      case ValueErrorType.Union: {
        // A mapping meant as one of a union's mappings ({ regex: … } or { present: … }): a
        // misspelt key is named with a did-you-mean, as anywhere else.
        const unknown = unknownUnionKey(error);
        if (unknown === undefined) report(path, expectedMessage(error));
        else report([...path, unknown.key], unknownFieldMessage(unknown.key, unknown.known), 'key');
        break;
      }
      case ValueErrorType.StringFormat:
        report(path, FORMAT_PROBLEMS[error.schema.format]?.(String(error.value)) ?? expectedMessage(error));
        break;
      default:
        report(path, expectedMessage(error));
    }
  }
}

/** The fields an included file may hold (includes.ts): a file of them alone reads as one. */
const INCLUDED_FIELDS = new Set(['routes', 'upstreams', 'plugins', 'include']);

/**
 * `candor check conf.d/api.yaml`, an included file checked on its own, lacks `listen`: said as
 * that, the reader looked for a field to add to the wrong file. One that holds what an included
 * file holds and no listen is most likely one.
 */
function includedAlone(path: readonly PathSegment[], document: unknown): string {
  if (path.length !== 1 || path[0] !== 'listen') return '';
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return '';
  const keys = Object.keys(document);
  return keys.length > 0 && keys.every((key) => INCLUDED_FIELDS.has(key))
    ? ' (a file of routes, upstreams, plugins and include only reads as one a main file includes: check that file, which includes it, or give this one a listen)'
    : '';
}

function unknownUnionKey(error: ValueError): { key: string; known: string[] } | undefined {
  const value = error.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const members: TSchema[] = error.schema.anyOf ?? [];
  const known = members.flatMap((member) => Object.keys(member.properties ?? {}));
  if (known.length === 0) return undefined;
  const key = Object.keys(value).find((k) => !known.includes(k));
  return key === undefined ? undefined : { key, known };
}

/** The formats a duration is written in: a number given there (`read: 30`) is told what it lacks. */
const DURATION_FORMATS: ReadonlySet<unknown> = new Set([
  FORMAT.duration,
  FORMAT.span,
  FORMAT.delay,
  FORMAT.lifetime,
  FORMAT.grace,
]);

function expectedMessage(error: ValueError): string {
  const expected = (error.schema as TSchema & { expected?: string }).expected;
  // Every schema node carries `expected`; TypeBox's own wording is the fallback, never the plan.
  const advice =
    error.type === ValueErrorType.StringPattern
      ? aLabelAdvice(error.value, (ascii) => new RegExp(error.schema.pattern).test(ascii))
      : DURATION_FORMATS.has(error.schema.format)
        ? durationAdvice(error.value)
        : error.schema.expected === SIZE_EXPECTED
          ? sizeAdvice(error.value)
          : '';
  return `expected ${expected ?? error.message.toLowerCase()}, got ${describeValue(error.value)}${advice}`;
}

/** "/routes/2/match/path" → ["routes", 2, "match", "path"], indexes as numbers where the value is a list. */
function pointerToPath(pointer: string, root: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let current: unknown = root;
  for (const escaped of pointer.slice(1).split('/')) {
    const key = escaped.replaceAll('~1', '/').replaceAll('~0', '~');
    const segment = Array.isArray(current) ? Number(key) : key;
    path.push(segment);
    current =
      current !== null && typeof current === 'object'
        ? (current as Record<PathSegment, unknown>)[segment]
        : undefined;
  }
  return path;
}
