import { logMs as round } from './duration.ts';
import { LineBatch } from './line-batch.ts';
import {
  bytes,
  flagMember,
  memberName,
  putCount,
  putDuration,
  putFlag,
  putJson,
  putPiece,
  putText,
  RepeatedMembers,
  writeInto,
} from './line-members.ts';
import { errorJson } from './loggable-error.ts';
import type { Logger } from './logger.ts';
import { type LoggerView, viewOf } from './logger.ts';
import {
  grpcStatusRead,
  loggedClient,
  loggedUpstream,
  type RequestRecord,
  type TryLine,
} from './request-record.ts';

const optional = (ms: number | undefined) => (ms === undefined ? undefined : round(ms));

/**
 * The access line's fields, in the order they are written, each read off the record; a field
 * whose value is undefined is left out. Field names are documented in the README. This table is
 * the line's reference: the line is written by putMembers, field by field in this order, and
 * test/observe/log holds it byte for byte equal to JSON.stringify of these fields.
 */
const FIELDS: ReadonlyArray<readonly [string, (record: RequestRecord) => unknown]> = [
  ['req_id', (r) => r.id],
  ['client_req_id', (r) => r.clientRequestId],
  ['background', (r) => r.background],
  ['for_req_id', (r) => r.backgroundFor],
  ['trace_id', (r) => r.trace.traceId],
  ['client', loggedClient],
  ['method', (r) => r.method],
  ['host', (r) => r.host],
  ['path', (r) => r.path],
  ['upstream_path', (r) => r.upstreamPath],
  ['protocol', (r) => r.protocol],
  ['route', (r) => r.route],
  ['auth', (r) => r.auth],
  ['auth_hop', (r) => r.authHop],
  ['user', (r) => r.user],
  ['answered_by', (r) => r.answeredBy],
  ['plugin_hop', (r) => r.pluginHop],
  ['upstream', loggedUpstream],
  ['target', (r) => r.target],
  ['status', (r) => r.status],
  ['grpc_status', grpcStatusRead],
  ['cache', (r) => r.cache],
  ['stale_cause', (r) => r.staleCause],
  ['error', (r) => r.failure?.type],
  ['shape', (r) => r.failure?.kind.shape],
  ['flag', (r) => r.failure?.flag],
  ['variant', (r) => r.failure?.variant],
  ['stage', stageOf],
  ['details', (r) => r.failure?.details],
  ['bytes_in', (r) => r.bytesIn],
  ['bytes_out', (r) => r.bytesOut],
  ['encoding', (r) => r.encoding],
  ['encoded_from', (r) => (r.encoding === undefined ? undefined : r.bytesBeforeEncoding)],
  ['encoded_to', (r) => (r.encoding === undefined ? undefined : r.bytesAfterEncoding)],
  ['queued_ms', (r) => optional(r.queuedMs)],
  ['connect_ms', (r) => optional(r.connectMs)],
  ['reused', (r) => r.reusedConnection],
  ['ttfb_ms', (r) => optional(r.ttfbMs)],
  ['total_ms', (r) => round(r.elapsed())],
  ['upstream_reset', (r) => r.upstreamReset],
  ['client_aborted', (r) => r.clientAborted],
  ['upgraded', (r) => r.upgraded || undefined],
  ['tunnel_closed_by', (r) => r.tunnelClosedBy],
  ['acme', (r) => r.acme],
  ['interim_dropped', (r) => r.interimDropped || undefined],
  ['panic', (r) => r.panic || undefined],
  ['hash_home', (r) => r.hashHome],
  ['attempts', (r) => r.tries.length],
  // Every attempt is in the line: the line's own fields tell a lone attempt that ended the way
  // the request did (the common line stays short); any other is listed.
  ['tries', listedTries],
  ['retry_skipped', (r) => r.retrySkipped],
  ['held_ms', (r) => optional(r.heldMs)],
  ['backoff_ms', (r) => optional(r.backoffMs)],
  // A call the gateway made for the request (its auth service, a plugin's fetch) that retried.
  ['hop_tries', (r) => (r.hopTries === undefined ? undefined : capped(r.hopTries))],
  ['spooled', (r) => (r.spooled === 0 ? undefined : r.spooled)],
  ['rate_limit_unchecked', (r) => r.rateLimitUnchecked],
];

/** Where the line is built for a sink that takes strings (a test's capture). */
const OWN_LINE = new LineBatch();

/** Each field's member up to its value, `,"name":`, as bytes made once. */
const MEMBER: Readonly<Record<string, Uint8Array>> = Object.fromEntries(
  FIELDS.map(([name]) => [name, memberName(name)]),
);
const REUSED = flagMember('reused');
const UPSTREAM_RESET = flagMember('upstream_reset');
const CLIENT_ABORTED = flagMember('client_aborted');
const UPGRADED = flagMember('upgraded');
const PANIC = flagMember('panic');
/** What a connection repeats, line after line. */
const WHO = new RepeatedMembers('client', 'method');
/**
 * A client's host, line after line: the very string the last line had while the request
 * parser's field-section memo reads each head as the one before (compared by identity). A slice
 * of another head is compared in the runtime a character at a time (some 30 ns for 15
 * characters), as much as writing it: a host that changes each line costs that and a copy.
 */
const HOST = new RepeatedMembers('host');
/** What a route repeats: its protocol and name, then (past the access rules' members) its upstream and target. */
const ROUTED = new RepeatedMembers('protocol', 'route');
const SENT_TO = new RepeatedMembers('upstream', 'target');
/** A gateway bug's error, after the fields. */
const ERR = memberName('err');

/**
 * How far the exchange got: the attempts' word, else, for a failure the gateway decided with no
 * attempt made (no route, an access rule, an auth hop), the failure's own (not_sent), as the
 * trace's candor.stage says it. A failure during an attempt that left no word is not guessed at.
 */
function stageOf(record: RequestRecord): RequestRecord['stage'] {
  return record.stage ?? (record.tries.length === 0 ? record.failure?.stage : undefined);
}

/**
 * Tries a line lists one by one at most: the first and the last half of them. A request held
 * for long (`hold`: the first in line tries every 250 ms) makes hundreds, and a line of every
 * one outgrew what log pipelines take as one line (Docker splits lines at 16 KiB).
 */
const LISTED_TRIES = 20;

/** The tries left out of a long list, in their place: how many, and how many ended with each error. */
interface OmittedTries {
  readonly omitted: number;
  readonly errors: Record<string, number>;
}

/**
 * The attempts the line lists: every one, unless a lone attempt ended as the request did (the
 * line's own fields tell it); past LISTED_TRIES, those between the first and the last ten are
 * counted by their error in one entry (`attempts` counts them all).
 */
function listedTries(
  record: RequestRecord,
): ReadonlyArray<RequestRecord['tries'][number] | OmittedTries> | undefined {
  const { tries } = record;
  if (tries.length <= 1 && (tries.length === 0 || tries[0].error === record.failure?.type)) return undefined;
  return capped(tries);
}

/** A list of tries as the line holds it: past LISTED_TRIES, the middle ones counted by error in one entry. */
function capped<T extends TryLine>(tries: readonly T[]): ReadonlyArray<T | OmittedTries> {
  if (tries.length <= LISTED_TRIES) return tries;
  const half = LISTED_TRIES / 2;
  const middle = tries.slice(half, -half);
  const errors: Record<string, number> = {};
  for (const { error } of middle) if (error !== undefined) errors[error] = (errors[error] ?? 0) + 1;
  return [...tries.slice(0, half), { omitted: middle.length, errors }, ...tries.slice(-half)];
}

type Level = 'info' | 'warn' | 'error';

/**
 * A level's lines up to their members, `{"level":…,"time":…`, the gateway's name
 * (`,"gateway":"edge-1"`) and a logger's bindings, as bytes made once per millisecond (the
 * time's ISO text is the logger's own lines' format) for the last logger that wrote that level:
 * a busy worker writes some 30 lines a millisecond.
 */
class Opening {
  readonly #start: string;
  #logger: Logger | undefined;
  #gateway: string | undefined;
  #at = 0;
  #bytes: Uint8Array = new Uint8Array(0);

  constructor(level: Level) {
    this.#start = `{"level":"${level}","time":"`;
  }

  /** The opening for a line of `logger`'s (`view` its view) at `now` (Date.now()). */
  bytes(logger: Logger, view: LoggerView, now: number): Uint8Array {
    // The name a reload may have changed (renameGateway), read from the view's box: no lookup on the logger.
    const gateway = view.gateway?.name;
    if (now !== this.#at || logger !== this.#logger || gateway !== this.#gateway) {
      this.#at = now;
      this.#logger = logger;
      this.#gateway = gateway;
      const named = gateway === undefined ? '' : `,"gateway":${JSON.stringify(gateway)}`;
      const opening = `${this.#start}${new Date(now).toISOString()}"${named}${bindingsOf(logger)}`;
      this.#bytes = Buffer.from(opening);
    }
    return this.#bytes;
  }
}
const OPENING: Readonly<Record<Level, Opening>> = {
  info: new Opening('info'),
  warn: new Opening('warn'),
  error: new Opening('error'),
};

/** Each logger's bindings as members (a child's `,"plugin":"p"`; none for the gateway's own), worked out once. */
const bindingsText = new WeakMap<Logger, string>();
function bindingsOf(logger: Logger): string {
  let text = bindingsText.get(logger);
  if (text === undefined) {
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    text = bindings === '' ? '' : `,${bindings}`;
    bindingsText.set(logger, text);
  }
  return text;
}

/** Every line's end. */
const END = bytes(',"msg":"request"}\n');

/**
 * The log phase: one line per request, whatever happened, written once when the downstream
 * response is finished or abandoned: `info` for answered requests and the client's failures,
 * `warn` for the upstream's and the gateway's, `error` for a gateway bug (with its error,
 * serialised as pino serialises an `err`).
 *
 * The line is the hot path's last cost: it is written as JSON text to the logger's own sink (so
 * it is batched with the logger's lines), not built as an object for a logger to walk; a log
 * writer's line is built as bytes in its batch (LineSink.openLine), where joining an array of
 * the pieces into a string, which the writer then encoded, cost a temporary array, a string and
 * a copy a line. A sink that takes strings gets the same bytes, as one string. `now`
 * (Date.now()) and `totalMs` (the record's elapsed()) are the log phase's one reading of each,
 * which the metrics share.
 */
export function logRequest(
  logger: Logger,
  record: RequestRecord,
  now = Date.now(),
  totalMs = record.elapsed(),
): void {
  const failure = record.failure;
  const level =
    failure === undefined || failure.kind.shape === 'client'
      ? 'info'
      : failure.kind.shape === 'internal'
        ? 'error'
        : 'warn';
  const view = viewOf(logger);
  if (!view[level]) return;
  // Written before the line opens: nothing may throw once it is, or the next line lands in its half.
  const err = level === 'error' && failure?.cause !== undefined ? errorJson(failure.cause) : undefined;
  const sink = view.sink;
  let line: LineBatch;
  if (sink.openLine === undefined) {
    line = OWN_LINE;
    line.openLine();
  } else line = sink.openLine();
  writeInto(line);
  putPiece(OPENING[level].bytes(logger, view, now));
  putMembers(record, totalMs);
  if (err !== undefined) putJson(ERR, err);
  putPiece(END);
  if (sink.closeLine !== undefined) sink.closeLine();
  else sink.write(OWN_LINE.take(false).toString());
}

/**
 * The line's members, field by field in FIELDS' order, each appended as its pieces: a call per
 * field through the table and a string per value put between quotes were most of the line's
 * cost. test/observe/log holds the line byte for byte equal to JSON.stringify of the table.
 */
function putMembers(r: RequestRecord, totalMs: number): void {
  const { failure, trace } = r;
  putText(MEMBER.req_id, r.id);
  if (r.clientRequestId !== undefined) putText(MEMBER.client_req_id, r.clientRequestId);
  if (r.background !== undefined) putText(MEMBER.background, r.background);
  if (r.backgroundFor !== undefined) putText(MEMBER.for_req_id, r.backgroundFor);
  if (trace.traceId !== undefined) putText(MEMBER.trace_id, trace.traceId);
  WHO.put(loggedClient(r), r.method);
  HOST.put(r.host);
  putText(MEMBER.path, r.path);
  if (r.upstreamPath !== undefined) putText(MEMBER.upstream_path, r.upstreamPath);
  ROUTED.put(r.protocol, r.route);
  if (r.auth !== undefined) putText(MEMBER.auth, r.auth);
  if (r.authHop !== undefined) putText(MEMBER.auth_hop, r.authHop);
  if (r.user !== undefined) putText(MEMBER.user, r.user);
  if (r.answeredBy !== undefined) putText(MEMBER.answered_by, r.answeredBy);
  if (r.pluginHop !== undefined) putText(MEMBER.plugin_hop, r.pluginHop);
  SENT_TO.put(loggedUpstream(r), r.target);
  putCount(MEMBER.status, r.status);
  const grpc = grpcStatusRead(r);
  if (grpc !== undefined) putCount(MEMBER.grpc_status, grpc);
  if (r.cache !== undefined) putText(MEMBER.cache, r.cache);
  if (r.staleCause !== undefined) putText(MEMBER.stale_cause, r.staleCause);
  if (failure !== undefined) {
    putText(MEMBER.error, failure.type);
    putText(MEMBER.shape, failure.kind.shape);
    putText(MEMBER.flag, failure.flag);
    if (failure.variant !== undefined) putText(MEMBER.variant, failure.variant);
  }
  const stage = stageOf(r);
  if (stage !== undefined) putText(MEMBER.stage, stage);
  if (failure !== undefined) putText(MEMBER.details, failure.details);
  putCount(MEMBER.bytes_in, r.bytesIn);
  putCount(MEMBER.bytes_out, r.bytesOut);
  if (r.encoding !== undefined) {
    putText(MEMBER.encoding, r.encoding);
    putCount(MEMBER.encoded_from, r.bytesBeforeEncoding);
    putCount(MEMBER.encoded_to, r.bytesAfterEncoding);
  }
  putTimes(r, totalMs);
  if (r.acme !== undefined) putText(MEMBER.acme, r.acme);
  if (r.interimDropped) putCount(MEMBER.interim_dropped, r.interimDropped);
  if (r.panic) putFlag(PANIC, true);
  if (r.hashHome !== undefined) putText(MEMBER.hash_home, r.hashHome);
  putCount(MEMBER.attempts, r.tries.length);
  const listed = listedTries(r);
  if (listed !== undefined) putJson(MEMBER.tries, JSON.stringify(listed));
  if (r.retrySkipped !== undefined) putText(MEMBER.retry_skipped, r.retrySkipped);
  if (r.heldMs !== undefined) putDuration(MEMBER.held_ms, r.heldMs);
  if (r.backoffMs !== undefined) putDuration(MEMBER.backoff_ms, r.backoffMs);
  if (r.hopTries !== undefined) putJson(MEMBER.hop_tries, JSON.stringify(capped(r.hopTries)));
  if (r.spooled !== undefined && r.spooled !== 0) putCount(MEMBER.spooled, r.spooled);
  if (r.rateLimitUnchecked !== undefined) putText(MEMBER.rate_limit_unchecked, r.rateLimitUnchecked);
}

/** From queued_ms to upgraded: the exchange's times and how it ended. */
function putTimes(r: RequestRecord, totalMs: number): void {
  if (r.queuedMs !== undefined) putDuration(MEMBER.queued_ms, r.queuedMs);
  if (r.connectMs !== undefined) putDuration(MEMBER.connect_ms, r.connectMs);
  if (r.reusedConnection !== undefined) putFlag(REUSED, r.reusedConnection);
  if (r.ttfbMs !== undefined) putDuration(MEMBER.ttfb_ms, r.ttfbMs);
  putDuration(MEMBER.total_ms, totalMs);
  putFlag(UPSTREAM_RESET, r.upstreamReset);
  putFlag(CLIENT_ABORTED, r.clientAborted);
  if (!r.upgraded) return;
  putFlag(UPGRADED, true);
  if (r.tunnelClosedBy !== undefined) putText(MEMBER.tunnel_closed_by, r.tunnelClosedBy);
}

/** The line's fields as an object (the README's reference of the line is checked against it). */
export function lineFields(record: RequestRecord): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map(([name, read]) => [name, read(record)]));
}
