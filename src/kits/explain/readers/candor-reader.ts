import { FAILURES, type FailureType } from '../../../core/failure/taxonomy.ts';
import { VARIANTS, type VariantName } from '../../../core/failure/variants.ts';
import { describeEvent } from '../../../observe/events/event-words.ts';
import { readEvent } from '../../../observe/events/read-event.ts';
import type { LogReader } from '../log-reader.ts';
import {
  authHopPlace,
  type ClientDeadlineAt,
  filesPlace,
  gatewayPlace,
  type HealthEvent,
  type LogRecord,
  type Maker,
  type RequestLine,
  sessionStorePlace,
} from '../log-record.ts';
import { oneLine } from './json-line.ts';

/** A type the taxonomy knows, or undefined (a line from another version may name others). */
export function knownType(value: unknown): FailureType | undefined {
  return typeof value === 'string' && Object.hasOwn(FAILURES, value) ? (value as FailureType) : undefined;
}

/** An `error` this version does not know, by its name when it reads as one (at most 64 characters). */
function unknownType(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return /^[a-z0-9_]{1,64}$/.test(value) ? value : '(not a type name)';
}

/** A decimal number as a log shipper re-encodes one, a string ("502", "12.5"). */
const DECIMAL = /^-?[0-9]{1,15}(?:\.[0-9]{1,15})?$/;

/**
 * A number of the line: as Candor writes it, or as a string of digits, which a shipper that
 * re-encodes every field (Fluent Bit, Vector, Logstash, some syslog relays) makes of it. Every
 * request line with `"status":"502"` was dropped unread.
 */
const finite = (value: unknown): number | undefined => {
  if (typeof value === 'string' && DECIMAL.test(value)) return Number(value);
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
};

function timeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The protocols Candor's line names (HTTP/1.0, HTTP/1.1, HTTP/2): a key of the report's table. */
const PROTOCOL = /^HTTP\/[0-9](?:\.[0-9])?$/;

/**
 * The line's `grpc_status` and who set it. A failure the gateway answered is logged with the
 * HTTP status it stands for (502, 504...), its gRPC status that of its Trailers-Only answer; a
 * status the upstream set comes with the upstream's own head (a 200). After that head, a failure
 * of the upstream's answer (a cut, a stall) is told by the gateway's trailers (or its reset);
 * the client's own leaving or slowness (`client_closed`, `http_request_error`) leaves the
 * upstream's status as it was.
 */
function grpcOf(entry: Record<string, unknown>, status: number): RequestLine['grpc'] {
  const code = finite(entry.grpc_status);
  if (code === undefined || !Number.isInteger(code) || code < 0 || code > 999) return undefined;
  const { error } = entry;
  const byGateway =
    error !== undefined &&
    (status < 200 || status >= 300 || (error !== 'client_closed' && error !== 'http_request_error'));
  return { status: code, producedBy: byGateway ? 'proxy' : 'upstream' };
}

/**
 * A wait with the time the request waited on no upstream taken out: held for a target to come
 * back (`held_ms`, upstreams.*.hold) and its retries' backoffs (`backoff_ms`).
 */
function withoutIdleWaits(waitMs: number | undefined, entry: Record<string, unknown>): number | undefined {
  const idle = (finite(entry.held_ms) ?? 0) + (finite(entry.backoff_ms) ?? 0);
  return waitMs === undefined ? waitMs : Math.max(0, waitMs - idle);
}

/** "no response head within the client's grpc-timeout of 150 ms" (or "no connection made within…"): the client's deadline, 150. */
function clientDeadline(details: unknown): number | undefined {
  if (typeof details !== 'string') return undefined;
  const ms = /\bgrpc-timeout of (\d{1,9}(?:\.\d{1,6})?) ms\b/.exec(details)?.[1];
  return ms === undefined ? undefined : Number(ms);
}

/** Where a client's deadline cut its request: before anything was sent, else by the line's `stage`. */
function cutAt(unsent: boolean, stage: unknown): ClientDeadlineAt {
  return unsent ? 'notSent' : stage === 'body_streaming' ? 'body' : 'head';
}

/**
 * The tries a long list left out (`{"omitted":N,"errors":{TYPE:COUNT}}`, access-log.ts), counted
 * by failure type: a count, never as many entries (a line may claim any number).
 */
function omittedTries(tries: readonly unknown[]): Array<readonly [FailureType, number]> {
  const counts: Array<readonly [FailureType, number]> = [];
  for (const attempt of tries) {
    const errors = (attempt as { errors?: unknown } | null)?.errors;
    if (errors === null || typeof errors !== 'object') continue;
    for (const [name, count] of Object.entries(errors)) {
      const type = knownType(name);
      if (type !== undefined && Number.isSafeInteger(count) && (count as number) > 0)
        counts.push([type, count as number]);
    }
  }
  return counts;
}

/**
 * The failed attempts of `hop_tries` (a retried auth call or plugin fetch), by the hop that made
 * each (`hop`). The call's last attempt, when its failure is the line's own (`auth: failed`, a
 * plugin's fetch that answered the request), is counted as the line's failure, not here; the
 * entry a long list counted instead of listing goes to the hop of the one before it.
 */
function hopRetried(entry: Record<string, unknown>): RequestLine['hopRetried'] {
  if (!Array.isArray(entry.hop_tries)) return undefined;
  const list = entry.hop_tries as unknown[];
  const lastOwn = (list[list.length - 1] as { error?: unknown } | null)?.error === entry.error;
  const found: Array<NonNullable<RequestLine['hopRetried']>[number]> = [];
  let hop: string | undefined;
  for (const [i, attempt] of list.entries()) {
    if (attempt === null || typeof attempt !== 'object') continue;
    const a = attempt as { hop?: unknown; target?: unknown; error?: unknown };
    if (typeof a.hop === 'string') hop = a.hop;
    if (hop === undefined) continue;
    for (const [failure, count] of omittedTries([a])) found.push({ hop, failure, count });
    const failure = knownType(a.error);
    if (failure === undefined || (lastOwn && i === list.length - 1)) continue;
    found.push({ hop, target: typeof a.target === 'string' ? a.target : undefined, failure, count: 1 });
  }
  return found.length > 0 ? found : undefined;
}

/** A `stale_cause` Candor writes: a failure type it knows, or the upstream's own 5xx status. */
function staleCause(value: string): string | undefined {
  return knownType(value) ?? (/^upstream_5\d\d$/.test(value) ? value : undefined);
}

/** The lines a worker writes as its passive health moves (report-outcome.ts, upstream-circuit.ts). */
const BREAKERS: ReadonlySet<string> = new Set([
  'target ejected',
  'target back in rotation',
  'circuit opened',
]);
const BREAKER_LINE = /"msg":"(?:target ejected|target back in rotation|circuit opened)"/;

/**
 * A target ejected or back, an upstream's circuit opened: the health section's rows, and an open
 * circuit a failure of its own (every request to the upstream answered 503 meanwhile). A log read
 * for its warnings alone (no request line) said "Failures none" of a circuit that had opened.
 */
function breakerOf(msg: string, entry: Record<string, unknown>): HealthEvent | undefined {
  const time = timeOf(entry.time);
  const upstream = typeof entry.upstream === 'string' ? entry.upstream : undefined;
  if (time === undefined || upstream === undefined) return undefined;
  const failure = knownType(entry.reason);
  const target = typeof entry.target === 'string' ? entry.target : undefined;
  const base = { kind: 'health', time, upstream, ...(failure === undefined ? {} : { failure }) } as const;
  if (msg === 'circuit opened')
    return {
      ...base,
      state: 'circuit-open',
      reason: `${entry.by === 'probe' ? 'its probe failed' : 'failures in a row'}${failure === undefined ? '' : `: ${failure}`}`,
    };
  if (target === undefined) return undefined;
  if (msg === 'target ejected')
    return {
      ...base,
      target,
      state: 'down',
      reason: `ejected${failure === undefined ? '' : ` after ${failure}`}`,
    };
  return {
    ...base,
    target,
    state: 'up',
    reason: `back in rotation${typeof entry.by === 'string' ? ` (by ${entry.by})` : ''}`,
  };
}

/**
 * Candor's own access log (src/observe/log/access-log.ts): one JSON object per request, `msg`
 * "request". The failure type is written as it is (`error`), so nothing is guessed. The
 * deploy timeline's lines, `msg` "event" (observe/events/timeline.ts), are the changes a storm
 * is placed against.
 */
export const candorReader: LogReader = {
  format: 'candor',
  title: 'Candor access log (JSON)',
  // Candor's own keys, in pino's order: level and time first, the gateway's name, a msg. Another
  // proxy's JSON (Traefik, Caddy) has some of them, never all.
  sniff: (line) =>
    line.startsWith('{"level":') &&
    line.includes(',"time":') &&
    line.includes(',"gateway":') &&
    line.includes(',"msg":'),
  read(line): LogRecord | undefined {
    if (
      !line.startsWith('{') ||
      !(line.includes('"request"') || line.includes('"event"') || BREAKER_LINE.test(line))
    )
      return undefined;
    let entry: Record<string, unknown>;
    try {
      entry = oneLine(line, JSON.parse(line));
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object') return undefined;
    if (entry.msg === 'event') return changeOf(entry.event);
    if (typeof entry.msg === 'string' && BREAKERS.has(entry.msg)) return breakerOf(entry.msg, entry);
    if (entry.msg !== 'request') return undefined;
    const time = timeOf(entry.time);
    const status = finite(entry.status);
    if (time === undefined || status === undefined) return undefined;
    const failure = knownType(entry.error);
    const slowFailure = failure !== undefined && FAILURES[failure].shape === 'slow';
    // The client's deadline passed before anything was sent (its shape is the connect's).
    const unsent = failure === 'client_deadline_connecting';
    const deadlineMs = slowFailure || unsent ? clientDeadline(entry.details) : undefined;
    // The last attempt is the line's own when it ended as the request did; one the gateway
    // answered after (a hold that timed out, a client's deadline in backoff) is counted too.
    const tries: Array<{ error?: unknown; ms?: unknown; target?: unknown }> = Array.isArray(entry.tries)
      ? entry.tries
      : [];
    const ownLast = tries.length > 0 && tries[tries.length - 1]?.error === entry.error;
    const earlier = tries.slice(0, ownLast ? -1 : undefined);
    const retriedTries = earlier.filter((attempt) => knownType(attempt?.error) !== undefined);
    const retried = retriedTries.map((attempt) => knownType(attempt.error) as FailureType);
    // Where each went: a target every retry went around ended no request, and is in no other field.
    const retriedTargets = retriedTries.map((attempt) =>
      typeof attempt.target === 'string' ? attempt.target : undefined,
    );
    const omitted = omittedTries(earlier);
    // `attempts: 0`: no attempt went (a full pool's queue, a hold with no target to try), so the
    // target the line names (the one it waited for) is counted nothing; a failure the gateway
    // answered after its last try is no target's either (failureNotAtTarget).
    const reached = finite(entry.attempts) !== 0;
    const ownAtTarget = reached && (tries.length === 0 || ownLast);
    const route = typeof entry.route === 'string' ? entry.route : undefined;
    const answeredBy =
      typeof entry.answered_by === 'string' && entry.answered_by.startsWith('plugin:')
        ? entry.answered_by
        : undefined;
    const variant = variantOf(entry, failure);
    const maker = makerOf(entry, failure, variant, answeredBy);
    return {
      kind: 'request',
      time,
      status,
      // Counted where the answer was made: the route's upstream only when it was (placeOf).
      upstream: placeOf(entry, maker, route, answeredBy),
      target: reached && typeof entry.target === 'string' ? entry.target : undefined,
      failure,
      ...(failure !== undefined && !ownAtTarget ? { failureNotAtTarget: true as const } : {}),
      unknownFailure: failure === undefined ? unknownType(entry.error) : undefined,
      retried: retried.length > 0 ? retried : undefined,
      retriedTargets: retriedTargets.some((target) => target !== undefined) ? retriedTargets : undefined,
      retriedOmitted: omitted.length > 0 ? omitted : undefined,
      hopRetried: hopRetried(entry),
      // A success waited until its head (ttfb); a timeout waited until it gave up: its own try's
      // `ms` where `tries` lists it (the earlier tries and their backoff are no wait on this one),
      // else the total. A held request's wait for a target to come back (held_ms) and its
      // retries' backoffs (backoff_ms) are no wait on the upstream either.
      waitMs: slowFailure
        ? ownLast
          ? finite(tries[tries.length - 1]?.ms)
          : withoutIdleWaits(finite(entry.total_ms), entry)
        : withoutIdleWaits(finite(entry.ttfb_ms), entry),
      clientAborted: entry.client_aborted === true || entry.client_aborted === 'true' || undefined,
      ...(entry.stage === 'body_streaming' && entry.error === 'client_closed'
        ? { clientLeftMidAnswer: true as const }
        : {}),
      // Candor logs every failure it answers for: a 5xx without one is the upstream's own.
      // A plugin's own answer (answered_by) is the gateway's, not the upstream's.
      producedBy:
        status >= 500
          ? entry.error === undefined && answeredBy === undefined
            ? 'upstream'
            : 'proxy'
          : undefined,
      // A failure at body_streaming came after the upstream's head went out: a 5xx is then the
      // upstream's, its body cut (the metrics' origin="upstream", Proxy-Status's received-status).
      ...(status >= 500 &&
      entry.error !== undefined &&
      entry.stage === 'body_streaming' &&
      answeredBy === undefined
        ? { failedAfterHead: true as const }
        : {}),
      requestId: typeof entry.req_id === 'string' ? entry.req_id : undefined,
      protocol:
        typeof entry.protocol === 'string' && PROTOCOL.test(entry.protocol) ? entry.protocol : undefined,
      route: typeof entry.route === 'string' ? entry.route : undefined,
      method: typeof entry.method === 'string' ? entry.method : undefined,
      deniedBy:
        status === 401 || status === 403
          ? (typeof entry.auth === 'string' && entry.auth.startsWith('denied')) || answeredBy !== undefined
            ? 'proxy'
            : 'upstream'
          : undefined,
      grpc: grpcOf(entry, status),
      clientDeadlineMs: deadlineMs,
      clientDeadlineAt: deadlineMs === undefined ? undefined : cutAt(unsent, entry.stage),
      staleCause: typeof entry.stale_cause === 'string' ? staleCause(entry.stale_cause) : undefined,
      maker,
      variant,
      answeredBy,
    };
  },
};

/**
 * The case of the line's failure type (`variant`, written since the access log carries it). A
 * line of an earlier version has none: a static route's failure is told there by its route with
 * no upstream (a static route has none; a request no route matched has no route).
 */
function variantOf(
  entry: Record<string, unknown>,
  failure: FailureType | undefined,
): VariantName | undefined {
  if (failure === undefined) return undefined;
  if (typeof entry.variant === 'string' && Object.hasOwn(VARIANTS, entry.variant)) {
    const named = entry.variant as VariantName;
    return VARIANTS[named].type === failure ? named : undefined;
  }
  if (entry.variant !== undefined || typeof entry.route !== 'string' || entry.upstream !== undefined)
    return undefined;
  if (entry.auth !== undefined || entry.plugin_hop !== undefined || entry.answered_by !== undefined)
    return undefined;
  return STATIC_CASES[failure];
}

/** A static route's failures, by type, for a line that names no variant (see variantOf). */
const STATIC_CASES: Partial<Record<FailureType, VariantName>> = {
  destination_not_found: 'static_file_not_found',
  http_response_incomplete: 'own_file_cut',
  proxy_resources_exhausted: 'static_file_descriptors',
};

/** The gateway's own decisions, made with no attempt: maintenance, load shedding, a refusal. */
const GATEWAY_DECIDES: ReadonlySet<FailureType> = new Set<FailureType>([
  'proxy_internal_response',
  'http_request_denied',
]);

/** Who made the line's answer when no upstream did (log-record.ts Maker); undefined: an upstream. */
function makerOf(
  entry: Record<string, unknown>,
  failure: FailureType | undefined,
  variant: VariantName | undefined,
  answeredBy: string | undefined,
): Maker | undefined {
  if (failure === undefined) return answeredBy === undefined ? undefined : 'plugin';
  if (variant === 'session_store_unavailable') return 'session-store';
  if (typeof entry.auth === 'string' && entry.auth.startsWith('failed: ')) return 'auth-hop';
  if (typeof entry.plugin_hop === 'string') return undefined;
  if (pluginAtFault(entry) !== undefined) return 'plugin';
  if (variant !== undefined && VARIANT_MAKERS[variant] !== undefined) return VARIANT_MAKERS[variant];
  // Candor writes `attempts` on every line: one that does not say is not guessed to have made none.
  return finite(entry.attempts) === 0 && GATEWAY_DECIDES.has(failure) ? 'gateway' : undefined;
}

const VARIANT_MAKERS: Partial<Record<VariantName, Maker>> = {
  static_file_not_found: 'files',
  static_file_descriptors: 'files',
  own_file_cut: 'files',
};

/**
 * Where a line is counted: the route's auth hop, a plugin's hop (the upstream a plugin asked), a
 * plugin, the route's files, the session store, the gateway's own decision, or the upstream.
 */
function placeOf(
  entry: Record<string, unknown>,
  maker: Maker | undefined,
  route: string | undefined,
  answeredBy: string | undefined,
): string | undefined {
  switch (maker) {
    case 'auth-hop':
      // Named as the log, the status page and Proxy-Status name it (`auth:NAME`, `auth:HOST:PORT`).
      return typeof entry.auth_hop === 'string' && entry.auth_hop.startsWith('auth:')
        ? entry.auth_hop
        : authHopPlace(route);
    case 'plugin':
      return pluginAtFault(entry) ?? answeredBy;
    case 'files':
      return filesPlace(route);
    case 'session-store':
      return sessionStorePlace(route);
    case 'gateway':
      return gatewayPlace(route);
  }
  if (typeof entry.plugin_hop === 'string') return entry.plugin_hop;
  return typeof entry.upstream === 'string' ? entry.upstream : undefined;
}

/**
 * A plugin's own bug (it threw or overran in a hook: the gateway's 500, its details "plugin:NAME
 * threw in onRequest") is counted at the plugin ("plugin:NAME"), not at the route's upstream,
 * which no attempt reached: its storm is no upstream's, its check is the plugin's code.
 */
function pluginAtFault(entry: Record<string, unknown>): string | undefined {
  if (entry.error !== 'proxy_internal_error' || typeof entry.details !== 'string') return undefined;
  const named = /^(plugin:\S+) (?:threw|overran)/.exec(entry.details);
  return named === null ? undefined : named[1];
}

/** An event line's change, checked field by field (readEvent): a line made to look like one is not. */
function changeOf(value: unknown): LogRecord | undefined {
  const event = readEvent(value);
  if (event === undefined) return undefined;
  const change = { kind: 'change', time: Date.parse(event.at), label: describeEvent(event) } as const;
  if (event.kind === 'canary') return { ...change, canary: { route: event.route, action: event.action } };
  return event.kind === 'worker' ? { ...change, workerDeath: true } : change;
}
