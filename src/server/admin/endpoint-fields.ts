import { unknownFieldMessage } from '../../core/did-you-mean.ts';
import type { Canaries } from '../canary/canaries.ts';
import type { ClusterControl } from '../cluster/cluster-control.ts';
import type { Caller } from '../cluster/reload-report.ts';
import type { RuntimeChange } from '../gateway/runtime-changes.ts';
import type { AdminRequest } from './admin-server.ts';
import { type AdminAnswer, badField, problem } from './answer.ts';

/** What every handler answers over: the cluster primary's control, and the canaries if any. */
export interface Admin {
  readonly control: ClusterControl;
  readonly canaries: Pick<Canaries, 'status' | 'act' | 'byHand'> | undefined;
}

export type Handler = (admin: Admin, request: AdminRequest) => AdminAnswer | Promise<AdminAnswer>;

export function caller(request: AdminRequest): Caller {
  return { via: 'admin', who: request.who };
}

/** A runtime change made through the cluster primary's control, as the admin API answers it. */
export async function applied(
  control: ClusterControl,
  change: RuntimeChange,
  caller: Caller,
): Promise<AdminAnswer> {
  const result = await control.change(change, caller);
  if ('problem' in result) return badField(result.problem.field, result.problem.detail);
  if (result.failed.length > 0)
    return problem(503, 'Change incomplete', 'some workers did not confirm the change', {
      change,
      workers: result,
    });
  return { status: 200, body: { applied: change, workers: result } };
}

/**
 * A write's body: a JSON object of the fields it reads (`fields`), or the 400 naming the first
 * it does not. A field dropped unread would change what the caller did not ask, as a write's
 * query would (admin-server.ts): `{"retryAfter": 120}` for `retry_after` turned maintenance on
 * without the Retry-After asked for, and answered 200.
 */
export function objectBody(
  body: unknown,
  fields: readonly string[],
): { fields: Record<string, unknown> } | { refused: AdminAnswer } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { refused: problem(400, 'Bad request', '(body): expected a JSON object', { field: '(body)' }) };
  const unread = unknownField(body as Record<string, unknown>, fields, '');
  return unread === undefined ? { fields: body as Record<string, unknown> } : { refused: unread };
}

/** The 400 naming an object's first field not among `fields` (`at`: where the object is), if any. */
function unknownField(object: Record<string, unknown>, fields: readonly string[], at: string) {
  const unread = Object.keys(object).find((name) => !fields.includes(name));
  return unread === undefined
    ? undefined
    : badField(`${at}${unread}`, `${unknownFieldMessage(unread, fields)}: nothing was changed`);
}

/**
 * A body's list of `{ <key>: name, weight: 0-1000 }` (target weights, a route's split), or the
 * 400 naming the first entry that is not one.
 */
export function weightedList(
  body: Record<string, unknown>,
  field: string,
  key: string,
  what: string,
): { name: string; weight: number }[] | AdminAnswer {
  const list = body[field];
  if (!Array.isArray(list) || list.length === 0)
    return badField(
      field,
      `expected a list of { "${key}": ${key === 'target' ? 'URL' : 'NAME'}, "weight": 0-1000 }`,
    );
  const out: { name: string; weight: number }[] = [];
  for (const [index, entry] of list.entries()) {
    const item = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const unread = unknownField(item, [key, 'weight'], `${field}[${index}].`);
    if (unread !== undefined) return unread;
    const name = item[key];
    if (typeof name !== 'string' || name === '')
      return badField(`${field}[${index}].${key}`, `expected ${what}`);
    if (CONTROL.test(name)) return badField(`${field}[${index}].${key}`, WITHOUT_CONTROLS);
    const weight = item.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 1000)
      return badField(
        `${field}[${index}].weight`,
        `expected a whole number from 0 to 1000, got ${JSON.stringify(weight)}`,
      );
    out.push({ name, weight });
  }
  return out;
}

export function stringField(body: Record<string, unknown>, field: string): string | AdminAnswer {
  const value = body[field];
  if (typeof value !== 'string' || value === '')
    return badField(field, `expected a non-empty string, got ${JSON.stringify(value) ?? 'nothing'}`);
  if (CONTROL.test(value)) return badField(field, WITHOUT_CONTROLS);
  return value;
}

/**
 * A control character in a name or a target's URL: no config name holds one, and URL parsing
 * strips a leading or trailing one, so `http://h:1\u0000` matched its target by origin while the
 * answer, the `admin change` line and the timeline kept the spelling as sent.
 */
const CONTROL = /[\u0000-\u001f\u007f]/;
const WITHOUT_CONTROLS = 'expected a name or URL without a control character: nothing was changed';
