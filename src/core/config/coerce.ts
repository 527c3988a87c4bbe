/**
 * `weight: ${WEIGHT:-2}` is a string to YAML; once expanded it should count as the number
 * it spells, where the schema wants a number. Only expanded values are coerced: a quoted
 * "2" written in the file stays a string and is reported, as the operator asked for one.
 */

import { KindGuard } from '@sinclair/typebox';
import { type PathSegment, schemaAt } from './schema.ts';

export function coerceExpanded(path: readonly PathSegment[], text: string): unknown {
  const schema = schemaAt(path);
  if (schema === undefined) return text;
  if (KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema)) {
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  if (KindGuard.IsBoolean(schema) && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}
