import {
  type AdminChange,
  CANARY_ACTIONS,
  type GatewayEvent,
  type NameChanges,
  type TargetMoves,
} from './gateway-event.ts';

/** A name, URL or reason longer than this is not one Candor wrote. */
const MAX_TEXT = 1000;
/** Nor a list longer than this (a reload's routes, a DNS answer's targets). */
const MAX_LIST = 1000;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT;
const texts = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length <= MAX_LIST && value.every(text);
const percent = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100;
const integer = (value: unknown, min: number, max: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
/** A process id, as Linux gives them (pid_max is at most 2^22). */
const pid = (value: unknown): value is number => integer(value, 1, 4_194_304);
/** How a process ended: its exit code (0 to 255), or a signal's name ("SIGKILL"). */
const exitOf = (value: unknown): value is number | string =>
  integer(value, 0, 255) || (typeof value === 'string' && /^SIG[A-Z0-9]{2,10}$/.test(value));
/** A worker's replacement waits at most half a minute (workers.ts's cap): a day is no delay Candor gave. */
const MAX_RESTART_MS = 86_400_000;

/**
 * An event as a log line or a worker wrote it, checked field by field: the event, or undefined
 * for anything else (a line from another version, or one made to look like ours). Never throws.
 */
export function readEvent(value: unknown): GatewayEvent | undefined {
  if (!isObject(value) || typeof value.at !== 'string' || Number.isNaN(Date.parse(value.at)))
    return undefined;
  const at = value.at;
  switch (value.kind) {
    case 'reload': {
      const routes = nameChanges(value.routes);
      const upstreams = nameChanges(value.upstreams);
      const targets = targetsOf(value.targets);
      if (!text(value.config_hash) || !text(value.via) || !routes || !upstreams || !targets) return undefined;
      return {
        kind: 'reload',
        at,
        config_hash: value.config_hash,
        via: value.via,
        ...(typeof value.revision === 'number' && Number.isSafeInteger(value.revision) && text(value.author)
          ? {
              revision: value.revision,
              author: value.author,
              ...(typeof value.rollback_of === 'number' && Number.isSafeInteger(value.rollback_of)
                ? { rollback_of: value.rollback_of }
                : {}),
            }
          : {}),
        ...(value.same_document === true ? { same_document: true } : {}),
        routes,
        upstreams,
        targets,
      };
    }
    case 'admin': {
      const change = adminChange(value.change);
      if (!text(value.who) || change === undefined) return undefined;
      return { kind: 'admin', at, who: value.who, change };
    }
    case 'discovery': {
      const moves = targetMoves(value);
      if (!text(value.upstream) || moves === undefined) return undefined;
      return { kind: 'discovery', at, upstream: value.upstream, ...moves };
    }
    case 'health': {
      const { upstream, target, state, failure } = value;
      if (!text(upstream) || !text(target) || (state !== 'healthy' && state !== 'unhealthy'))
        return undefined;
      if (failure !== undefined && !text(failure)) return undefined;
      return { kind: 'health', at, upstream, target, state, ...(failure === undefined ? {} : { failure }) };
    }
    case 'canary': {
      const { route, upstream, action, weight, reason } = value;
      if (!text(route) || !text(upstream) || !percent(weight)) return undefined;
      if (!CANARY_ACTIONS.includes(action as (typeof CANARY_ACTIONS)[number])) return undefined;
      if (reason !== undefined && !text(reason)) return undefined;
      return {
        kind: 'canary',
        at,
        route,
        upstream,
        action: action as (typeof CANARY_ACTIONS)[number],
        weight,
        ...(reason === undefined ? {} : { reason }),
      };
    }
    case 'worker':
      return workerEvent(value, at);
  }
  return undefined;
}

function nameChanges(value: unknown): NameChanges | undefined {
  if (!isObject(value) || !texts(value.added) || !texts(value.removed) || !texts(value.changed))
    return undefined;
  return { added: value.added, removed: value.removed, changed: value.changed };
}

function targetMoves(value: unknown): TargetMoves | undefined {
  if (!isObject(value) || !texts(value.joined) || !texts(value.left)) return undefined;
  return { joined: value.joined, left: value.left };
}

function targetsOf(value: unknown): Record<string, TargetMoves> | undefined {
  if (!isObject(value) || Object.keys(value).length > MAX_LIST) return undefined;
  const out: Record<string, TargetMoves> = {};
  for (const [name, moves] of Object.entries(value)) {
    const read = targetMoves(moves);
    if (!text(name) || read === undefined) return undefined;
    out[name] = read;
  }
  return out;
}

function adminChange(value: unknown): AdminChange | undefined {
  if (!isObject(value)) return undefined;
  const weighted = (list: unknown, key: 'target' | 'upstream') =>
    Array.isArray(list) &&
    list.length > 0 &&
    list.length <= MAX_LIST &&
    list.every(
      (w) => isObject(w) && text(w[key]) && typeof w.weight === 'number' && Number.isFinite(w.weight),
    );
  switch (value.kind) {
    case 'target_state': {
      const { upstream, target, state } = value;
      if (!text(upstream) || !text(target)) return undefined;
      if (state !== 'enabled' && state !== 'draining' && state !== 'disabled') return undefined;
      return { kind: 'target_state', upstream, target, state };
    }
    case 'weights':
      if (!text(value.upstream) || !weighted(value.weights, 'target')) return undefined;
      return {
        kind: 'weights',
        upstream: value.upstream,
        weights: (value.weights as Json[]).map((w) => ({
          target: w.target as string,
          weight: w.weight as number,
        })),
      };
    case 'maintenance':
      if (!text(value.route) || typeof value.enabled !== 'boolean') return undefined;
      return { kind: 'maintenance', route: value.route, enabled: value.enabled };
    case 'split':
      if (!text(value.route) || !weighted(value.split, 'upstream')) return undefined;
      return {
        kind: 'split',
        route: value.route,
        split: (value.split as Json[]).map((s) => ({
          upstream: s.upstream as string,
          weight: s.weight as number,
        })),
      };
    case 'purge': {
      const { route, key } = value;
      if ((route !== null && !text(route)) || (key !== null && !text(key))) return undefined;
      return { kind: 'purge', route, key };
    }
  }
  return undefined;
}

/** A worker's death: every field as the primary writes it, or undefined. */
function workerEvent(value: Json, at: string): GatewayEvent | undefined {
  const {
    pid: died,
    exit,
    short_lived_in_a_row: inARow,
    restart_in_ms: waits,
    replacement_pid: next,
  } = value;
  if ((died !== null && !pid(died)) || !exitOf(exit) || typeof value.served !== 'boolean') return undefined;
  if (!integer(inARow, 1, Number.MAX_SAFE_INTEGER) || !integer(waits, 0, MAX_RESTART_MS)) return undefined;
  if (next !== undefined && !pid(next)) return undefined;
  return {
    kind: 'worker',
    at,
    pid: died,
    exit,
    served: value.served,
    short_lived_in_a_row: inARow,
    restart_in_ms: waits,
    ...(next === undefined ? {} : { replacement_pid: next }),
  };
}
