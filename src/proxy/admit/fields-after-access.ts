import { type FieldMap, fieldMap, joinedValue } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';

/**
 * The request's fields as the access rules leave them (`edit` of the client's `raw` fields): a
 * JWT's `claims_to_headers` and forward auth's `copy_headers` in, the client's own copies out.
 * What the gateway itself keys on past the admit phase reads these, as the upstream does: a
 * rate limit by `header:X-User-Id`, a stored answer's `Vary: X-User-Id`, so one user's bucket
 * or answer is never another's, nor reached with a forged copy of the field. The client's
 * Authorization stays, though it does not go upstream: a shared cache keeps an answer to a
 * request that carried one only when the answer allows it (RFC 9111 §3.5), and a limit keyed
 * on it counts each credential. Without an edit, the client's fields as they are.
 */
export function fieldsAfterAccess(
  raw: readonly string[],
  fields: FieldMap,
  edit: AnswerEdit | undefined,
): FieldMap {
  if (edit === undefined) return fields;
  const sent = edit(raw);
  const authorization = joinedValue(fields.authorization);
  if (
    authorization !== undefined &&
    !sent.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization')
  )
    sent.push('authorization', authorization);
  const out = fieldMap(sent) as Record<string, string | string[] | undefined>;
  // Host stays the one the request goes to (an absolute-form target's authority: addressedFields),
  // not the field the client wrote beside it, which `raw` still holds.
  if (fields.host !== undefined) out.host = fields.host;
  return out;
}
