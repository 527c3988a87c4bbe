/**
 * The admin API's runtime changes (README "Admin API"): a target's state and the weights of an
 * upstream's targets, a route's split (a canary's share set by hand) and its maintenance, each
 * read from its body and applied through the cluster primary's control (endpoint-fields.ts's
 * applied). Apart from endpoints.ts, which lists every endpoint and answers the reads, the
 * reload and the purge: these are the ones that change what the workers run until a reload.
 */
import { messageProblem } from '../../core/config/message-text.ts';
import type { AdminRequest } from './admin-server.ts';
import { type AdminAnswer, badField, problem } from './answer.ts';
import {
  type Admin,
  applied,
  caller,
  type Handler,
  objectBody,
  stringField,
  weightedList,
} from './endpoint-fields.ts';

/**
 * The longest maintenance `retry_after`, in seconds: the config's (a duration of at most 596h,
 * core/config/formats.ts; not imported from there: it would load the schema into the primary).
 */
const LONGEST_RETRY_AFTER = 596 * 3600;

export function targetState(state: 'draining' | 'disabled' | 'enabled'): Handler {
  return async ({ control }, request) => {
    const parsed = objectBody(request.body, ['upstream', 'target']);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.fields;
    const upstream = stringField(body, 'upstream');
    if (typeof upstream !== 'string') return upstream;
    const target = stringField(body, 'target');
    if (typeof target !== 'string') return target;
    return applied(control, { kind: 'target_state', upstream, target, state }, caller(request));
  };
}

export async function targetWeights({ control }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  const parsed = objectBody(request.body, ['upstream', 'weights']);
  if ('refused' in parsed) return parsed.refused;
  const body = parsed.fields;
  const upstream = stringField(body, 'upstream');
  if (typeof upstream !== 'string') return upstream;
  const weights = weightedList(body, 'weights', 'target', 'a target URL');
  if (!Array.isArray(weights)) return weights;
  return applied(
    control,
    {
      kind: 'weights',
      upstream,
      weights: weights.map(({ name, weight }) => ({ target: name, weight })),
    },
    caller(request),
  );
}

/** A route's split (or its canary's share, by hand): { route, sides: [{ upstream, weight }] }. */
export async function routeSplit({ control, canaries }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  const parsed = objectBody(request.body, ['route', 'sides']);
  if ('refused' in parsed) return parsed.refused;
  const body = parsed.fields;
  const route = stringField(body, 'route');
  if (typeof route !== 'string') return route;
  const sides = weightedList(body, 'sides', 'upstream', 'an upstream name');
  if (!Array.isArray(sides)) return sides;
  const named = new Set<string>();
  for (const [index, side] of sides.entries()) {
    if (named.has(side.name)) return badField(`sides[${index}].upstream`, `"${side.name}" is named twice`);
    named.add(side.name);
  }
  const answer = await applied(
    control,
    { kind: 'split', route, sides: sides.map(({ name, weight }) => ({ upstream: name, weight })) },
    caller(request),
  );
  // A canary's share set by hand pauses it there (its status then tells the truth); in a
  // fleet it is answered once the fleet's Redis took that state, as the canary's actions are.
  const now = control.changes.find((c) => c.kind === 'split' && c.route === route);
  if (answer.status !== 200 || now?.kind !== 'split' || canaries === undefined) return answer;
  const hand = await canaries.byHand(route, now.sides, `admin ${request.who}`);
  if (hand === undefined) return answer;
  if ('moved' in hand) return problem(409, 'Conflict', hand.moved, { field: 'route', canary: hand.status });
  if ('unshared' in hand)
    return problem(
      503,
      'Canary not shared',
      `the weights are in force on this gateway only: the fleet's store did not answer (${hand.unshared}); they are written to it once it answers, unless the fleet's canary changed meanwhile`,
      { ...(answer.body as object), canary: hand.status },
    );
  return { status: 200, body: { ...(answer.body as object), canary: hand.status } };
}

export async function routeMaintenance({ control }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  const parsed = objectBody(request.body, ['route', 'enabled', 'message', 'retry_after']);
  if ('refused' in parsed) return parsed.refused;
  const body = parsed.fields;
  const route = stringField(body, 'route');
  if (typeof route !== 'string') return route;
  if (typeof body.enabled !== 'boolean') return badField('enabled', 'expected true or false');
  if (
    body.message !== undefined &&
    (typeof body.message !== 'string' || body.message.length === 0 || body.message.length > 500)
  )
    return badField('message', 'expected a message of 1 to 500 characters');
  // The config's rule for the same text: clients get it raw in the 503's body (an ESC sequence
  // their terminal obeys, a CR that rewrites the line), so what a file may not say, a call may not.
  const unsendable = typeof body.message === 'string' ? messageProblem(body.message) : undefined;
  if (unsendable !== undefined) return badField('message', unsendable);
  // Bounded as the config's own retry_after: past it (1e21) the number is no longer written
  // in digits, and `Retry-After: 1e+21` is no delay-seconds (RFC 9110 §10.2.3).
  const retryAfter = body.retry_after;
  if (
    retryAfter !== undefined &&
    (typeof retryAfter !== 'number' ||
      !Number.isInteger(retryAfter) ||
      retryAfter < 1 ||
      retryAfter > LONGEST_RETRY_AFTER)
  )
    return badField(
      'retry_after',
      `expected whole seconds, from 1 to ${LONGEST_RETRY_AFTER} (596h, as routes[].maintenance.retry_after)`,
    );
  return applied(
    control,
    {
      kind: 'maintenance',
      route,
      enabled: body.enabled,
      ...(body.message === undefined ? {} : { message: body.message as string }),
      ...(retryAfter === undefined ? {} : { retryAfter: retryAfter as number }),
    },
    caller(request),
  );
}
