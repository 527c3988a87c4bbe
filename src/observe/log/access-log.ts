import pino from 'pino';
import { logMs as round } from './duration.ts';
import type { Logger } from './logger.ts';
import { LINE_SINK } from './logger.ts';
import { grpcStatusRead, type RequestRecord } from './request-record.ts';

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
  ['trace_id', (r) => r.trace.traceId],
  ['client', (r) => r.clientAddress],
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
  ['upstream', (r) => r.upstream],
  ['target', (r) => r.target],
  ['status', (r) => r.status],
  ['grpc_status', grpcStatusRead],
  ['cache', (r) => r.cache],
  ['stale_cause', (r) => r.staleCause],
  ['error', (r) => r.failure?.type],
  ['shape', (r) => r.failure?.kind.shape],
  ['flag', (r) => r.failure?.flag],
  ['stage', stageOf],
  ['details', (r) => r.failure?.details],
  ['bytes_in', (r) => r.bytesIn],
  ['bytes_out', (r) => r.bytesOut],
  ['encoding', (r) => r.encoding],
  ['encoded_from', (r) => (r.encoding === undefined ? undefined : r.bytesBeforeEncoding)],
  ['encoded_to', (r) => (r.encoding === undefined ? undefined : r.bytesAfterEncoding)],
  ['connect_ms', (r) => optional(r.connectMs)],
  ['reused', (r) => r.reusedConnection],
  ['ttfb_ms', (r) => optional(r.ttfbMs)],
  ['total_ms', (r) => round(r.elapsed())],
  ['upstream_reset', (r) => r.upstreamReset],
  ['client_aborted', (r) => r.clientAborted],
  ['upgraded', (r) => r.upgraded || undefined],
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
  ['spooled', (r) => (r.spooled === 0 ? undefined : r.spooled)],
];

/** A string JSON carries as it is: printable ASCII without a quote or a backslash. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The pieces of the line being built, joined once into the line: one array for every line (a
 * line is built in one go, never re-entered), written by index and never emptied (an emptied
 * array gives its storage back, and every line would grow it again). Appending the pieces to a
 * string instead made a rope of some 60 nodes a line, which outlived young collections in the
 * writer's queue and was flattened there: more bytes, and no less CPU, than the join.
 */
const parts: string[] = [];
/** The next free index in `parts`. */
let next = 0;
/** Whether every string put in the line as it is was plain (see `text`). */
let allPlain = true;

/** Appends a member whose value is JSON text already: `member` is `,"name":`. */
function json(member: string, value: string): void {
  parts[next] = member;
  parts[next + 1] = value;
  next += 2;
}

/**
 * Appends a member whose value is a string, as it is between two quotes (`member` is
 * `,"name":"`): right for a plain string, the common one (ids, addresses, names, a path);
 * anything else clears `allPlain`, and the line is written from the table (referenceMembers).
 */
function text(member: string, value: string): void {
  if (!PLAIN.test(value)) allPlain = false;
  parts[next] = member;
  parts[next + 1] = value;
  parts[next + 2] = '"';
  next += 3;
}

/** A number as JSON writes it: `${n}`, or null when not finite. */
function num(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/**
 * A duration as the line writes it (logMs: milliseconds to two decimals), its text made from
 * its whole hundredths: the text of `${logMs(ms)}`, which is the shortest that reads back as the
 * same double, and under 10^15 hundredths (15 digits at most) that is the digits themselves.
 * V8's double-to-text conversion took some 100 ns a duration, two or three a line; the fraction's
 * text is one of FRACTIONS, so that a duration is one string made, not two.
 */
function ms(value: number): string {
  const hundredths = Math.round(value * 100);
  if (!(hundredths >= 0 && hundredths < 1e15)) return num(hundredths / 100);
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths - whole * 100;
  return fraction === 0 ? `${whole}` : `${whole}${FRACTIONS[fraction]}`;
}

/**
 * What follows a whole number of milliseconds for each count of hundredths past it (1–99), as
 * `${n}` writes a double with them: `.01`, `.1`, `.99` (the shortest text of f / 100, whole
 * digits left out).
 */
const FRACTIONS: readonly string[] = Array.from({ length: 100 }, (_, f) => `${f / 100}`.slice(1));

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
): Array<RequestRecord['tries'][number] | OmittedTries> | undefined {
  const { tries } = record;
  if (tries.length <= 1 && (tries.length === 0 || tries[0].error === record.failure?.type)) return undefined;
  if (tries.length <= LISTED_TRIES) return tries;
  const half = LISTED_TRIES / 2;
  const middle = tries.slice(half, -half);
  const errors: Record<string, number> = {};
  for (const { error } of middle) if (error !== undefined) errors[error] = (errors[error] ?? 0) + 1;
  return [...tries.slice(0, half), { omitted: middle.length, errors }, ...tries.slice(-half)];
}

/**
 * What follows the time in each logger's lines: the time's closing quote and the logger's
 * bindings as JSON members (e.g. `","gateway":"edge-1"`), worked out once per logger.
 */
const afterTimeOf = new WeakMap<Logger, string>();

let isoAt = 0;
let iso = '';
/** An ISO time, as the logger's own lines carry it, computed once per millisecond instead of once per line. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    isoAt = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

/** Each level's line up to its time. */
const OPENING = {
  info: '{"level":"info","time":"',
  warn: '{"level":"warn","time":"',
  error: '{"level":"error","time":"',
} as const;

/**
 * The log phase: one line per request, whatever happened, written once when the downstream
 * response is finished or abandoned: `info` for answered requests and the client's failures,
 * `warn` for the upstream's and the gateway's, `error` for a gateway bug (with its error,
 * serialised as pino serialises an `err`).
 *
 * The line is the hot path's last cost: it is written as JSON text to the logger's own sink (so
 * it is batched with the logger's lines), not built as an object for a logger to walk.
 */
export function logRequest(logger: Logger, record: RequestRecord): void {
  const failure = record.failure;
  const level =
    failure === undefined || failure.kind.shape === 'client'
      ? 'info'
      : failure.kind.shape === 'internal'
        ? 'error'
        : 'warn';
  if (!logger.isLevelEnabled(level)) return;
  let afterTime = afterTimeOf.get(logger);
  if (afterTime === undefined) {
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    afterTime = bindings === '' ? '"' : `",${bindings}`;
    afterTimeOf.set(logger, afterTime);
  }
  parts[0] = OPENING[level];
  parts[1] = isoNow();
  parts[2] = afterTime;
  next = 3;
  allPlain = true;
  putMembers(record);
  if (!allPlain) {
    // A string JSON must escape: the members again, from the table.
    next = 3;
    parts[next++] = referenceMembers(record);
  }
  if (level === 'error' && failure?.cause !== undefined)
    json(',"err":', JSON.stringify(pino.stdSerializers.err(failure.cause as Error)));
  parts[next++] = ',"msg":"request"}\n';
  // Only a line of fewer pieces than the last leaves pieces past its end: cut (a few, no storage given back).
  if (parts.length > next) parts.length = next;
  logger[LINE_SINK].write(parts.join(''));
}

/**
 * The line's members, field by field in FIELDS' order, each appended as its pieces: a call per
 * field through the table and a string per value put between quotes were most of the line's
 * cost. test/observe/log holds the line byte for byte equal to JSON.stringify of the table.
 */
function putMembers(r: RequestRecord): void {
  const { failure, trace } = r;
  text(',"req_id":"', r.id);
  if (r.clientRequestId !== undefined) text(',"client_req_id":"', r.clientRequestId);
  if (trace.traceId !== undefined) text(',"trace_id":"', trace.traceId);
  text(',"client":"', r.clientAddress);
  text(',"method":"', r.method);
  text(',"host":"', r.host);
  text(',"path":"', r.path);
  if (r.upstreamPath !== undefined) text(',"upstream_path":"', r.upstreamPath);
  if (r.protocol !== undefined) text(',"protocol":"', r.protocol);
  if (r.route !== undefined) text(',"route":"', r.route);
  if (r.auth !== undefined) text(',"auth":"', r.auth);
  if (r.authHop !== undefined) text(',"auth_hop":"', r.authHop);
  if (r.user !== undefined) text(',"user":"', r.user);
  if (r.answeredBy !== undefined) text(',"answered_by":"', r.answeredBy);
  if (r.upstream !== undefined) text(',"upstream":"', r.upstream);
  if (r.target !== undefined) text(',"target":"', r.target);
  json(',"status":', num(r.status));
  const grpc = grpcStatusRead(r);
  if (grpc !== undefined) json(',"grpc_status":', num(grpc));
  if (r.cache !== undefined) text(',"cache":"', r.cache);
  if (r.staleCause !== undefined) text(',"stale_cause":"', r.staleCause);
  if (failure !== undefined) {
    text(',"error":"', failure.type);
    text(',"shape":"', failure.kind.shape);
    text(',"flag":"', failure.flag);
  }
  const stage = stageOf(r);
  if (stage !== undefined) text(',"stage":"', stage);
  if (failure !== undefined) text(',"details":"', failure.details);
  json(',"bytes_in":', num(r.bytesIn));
  json(',"bytes_out":', num(r.bytesOut));
  if (r.encoding !== undefined) {
    text(',"encoding":"', r.encoding);
    json(',"encoded_from":', num(r.bytesBeforeEncoding));
    json(',"encoded_to":', num(r.bytesAfterEncoding));
  }
  if (r.connectMs !== undefined) json(',"connect_ms":', ms(r.connectMs));
  if (r.reusedConnection !== undefined) json(',"reused":', r.reusedConnection ? 'true' : 'false');
  if (r.ttfbMs !== undefined) json(',"ttfb_ms":', ms(r.ttfbMs));
  json(',"total_ms":', ms(r.elapsed()));
  json(',"upstream_reset":', r.upstreamReset ? 'true' : 'false');
  json(',"client_aborted":', r.clientAborted ? 'true' : 'false');
  if (r.upgraded) json(',"upgraded":', 'true');
  if (r.acme !== undefined) text(',"acme":"', r.acme);
  if (r.interimDropped) json(',"interim_dropped":', num(r.interimDropped));
  if (r.panic) json(',"panic":', 'true');
  if (r.hashHome !== undefined) text(',"hash_home":"', r.hashHome);
  json(',"attempts":', num(r.tries.length));
  const listed = listedTries(r);
  if (listed !== undefined) json(',"tries":', JSON.stringify(listed));
  if (r.retrySkipped !== undefined) text(',"retry_skipped":"', r.retrySkipped);
  if (r.heldMs !== undefined) json(',"held_ms":', ms(r.heldMs));
  if (r.spooled !== undefined && r.spooled !== 0) json(',"spooled":', num(r.spooled));
}

/** The line's members from the table, through JSON.stringify (which leaves out an undefined value). */
function referenceMembers(record: RequestRecord): string {
  const members = JSON.stringify(lineFields(record)).slice(1, -1);
  return members === '' ? '' : `,${members}`;
}

/** The line's fields as an object (the README's reference of the line is checked against it). */
export function lineFields(record: RequestRecord): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map(([name, read]) => [name, read(record)]));
}
