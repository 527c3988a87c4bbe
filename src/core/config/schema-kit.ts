/**
 * The building blocks of the config schema: each node carries the `expected` phrase that
 * validate.ts turns into the message an operator reads.
 */

import { type TProperties, Type } from '@sinclair/typebox';
import { DURATION_EXPECTED, FORMAT, SIZE_EXPECTED } from './formats.ts';

export function mapping<T extends TProperties>(properties: T, expected: string) {
  return Type.Object(properties, { additionalProperties: false, expected });
}

export const durationField = () =>
  Type.Optional(Type.String({ format: FORMAT.duration, expected: DURATION_EXPECTED }));
/** A duration no timer waits for (longer than a timer's 596h allowed). */
export const span = () => Type.Optional(Type.String({ format: FORMAT.span, expected: DURATION_EXPECTED }));
// A number of bytes past 2^53 - 1 is no exact integer (YAML reads 9007199254740993 as ...992, and
// 1e30 as an integer too): the bound keeps the schema to what parseSize takes.
export const sizeField = () =>
  Type.Optional(
    Type.Union(
      [Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ format: FORMAT.size })],
      {
        expected: SIZE_EXPECTED,
      },
    ),
  );
export const flag = () => Type.Optional(Type.Boolean({ expected: 'true or false' }));
export const count = (minimum: number, maximum: number, what: string) =>
  Type.Optional(
    Type.Integer({ minimum, maximum, expected: `${what}, a whole number from ${minimum} to ${maximum}` }),
  );
export const ratio = (what: string) =>
  Type.Optional(Type.Number({ minimum: 0, maximum: 1, expected: `${what}, a number from 0 to 1` }));
export const filePath = (what: string) => Type.String({ minLength: 1, expected: `the path of ${what}` });
export const oneOf = <const T extends readonly string[]>(values: T) =>
  Type.Optional(
    Type.Unsafe<T[number]>(
      Type.Union(
        values.map((value) => Type.Literal(value)),
        { expected: `one of ${values.join(', ')}` },
      ),
    ),
  );
