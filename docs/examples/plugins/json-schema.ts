/**
 * A JSON request body checked against a schema before it reaches the upstream: a body that is not
 * JSON is a 400, one that is JSON but not what the schema says a 422, each an
 * `application/problem+json` (RFC 9457) naming what is wrong, field by field. A body that passes
 * goes upstream as the client sent it. The schema is written with TypeBox (`@sinclair/typebox`,
 * which the project using this example installs) and compiled once per config load.
 *
 * `request.body()` reads at most `options.max_body` bytes (and the route's `limits.buffer`): a
 * longer body is the client's 413 before any of it is parsed.
 */
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Plugin, PluginOptionProblem } from 'candor';

interface Options {
  /** Bytes of body read at most (default 64 KiB). */
  readonly max_body?: number;
}

/** The order the upstream takes: what the plugin lets through. */
const Order = Type.Object(
  {
    item: Type.String({ minLength: 1, maxLength: 64 }),
    quantity: Type.Integer({ minimum: 1, maximum: 100 }),
    note: Type.Optional(Type.String({ maxLength: 280 })),
  },
  { additionalProperties: false },
);
export type Order = Static<typeof Order>;

export function validate(options: unknown): PluginOptionProblem[] {
  const max = (options as Partial<Options> | undefined)?.max_body;
  if (max === undefined || (Number.isInteger(max) && max > 0)) return [];
  return [{ path: 'max_body', message: 'expected a number of bytes above 0' }];
}

function problem(status: number, title: string, detail: string, extra: object = {}): Response {
  return Response.json(
    { type: 'about:blank', title, status, detail, ...extra },
    { status, headers: { 'content-type': 'application/problem+json' } },
  );
}

const jsonSchema: Plugin<Options | undefined> = (options) => {
  const limit = options?.max_body ?? 64 * 1024;
  // Compiled once for the config, not per request.
  const check = TypeCompiler.Compile(Order);
  return {
    async onRequest(request) {
      if (request.method !== 'POST' && request.method !== 'PUT') return;
      // A rejection (413 past the bound, the client's 408) is let out: it is the request's answer.
      const bytes = await request.body({ limit });
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      } catch {
        return problem(400, 'Bad Request', 'the request body is not JSON');
      }
      if (check.Check(value)) return;
      const errors = [...check.Errors(value)].slice(0, 10).map((e) => ({ path: e.path, message: e.message }));
      return problem(422, 'Unprocessable Content', 'the request body is not a valid order', { errors });
    },
  };
};

export default jsonSchema;
