import pino from 'pino';
import { logMs as round } from './duration.ts';
import { LineBatch } from './line-batch.ts';
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

/**
 * The line being built: written piece by piece straight into a batch's bytes — the log writer's
 * own (LineSink.openLine), or, for a sink that takes strings (a test's capture), OWN_LINE's. A
 * line is built in one go, never re-entered. Joining an array of the pieces into a string, which
 * the writer then encoded into its batch, cost a temporary array, a string and a copy a line.
 */
/** Where the line is built for a sink that takes strings. */
const OWN_LINE = new LineBatch();
let line: LineBatch = OWN_LINE;
/** Whether every string put in the line as it is was plain (see `text`). */
let allPlain = true;

/**
 * Each field's member up to its value, `,"name":`, as bytes made once: they are most of a line's
 * bytes, and copied from bytes they cost half what they did copied from their strings (a string
 * read a character at a time is looked at for its kind at every character).
 */
const MEMBER: Readonly<Record<string, Uint8Array>> = Object.fromEntries(
  FIELDS.map(([name]) => [name, Buffer.from(`,"${name}":`, 'latin1')]),
);
/** A gateway bug's error, after the fields. */
const ERR = Buffer.from(',"err":', 'latin1');
const QUOTE = 0x22;

/** Appends a member whose value is JSON text already. */
function json(member: Uint8Array, value: string): void {
  line.putBytes(member);
  line.put(value);
}

/**
 * Appends a member whose value is a string, as it is between two quotes: right for a plain
 * string, the common one (ids, addresses, names, a path); anything else clears `allPlain`, and
 * the line is written from the table (referenceMembers).
 */
function text(member: Uint8Array, value: string): void {
  line.putBytes(member);
  line.putByte(QUOTE);
  if (!line.put(value)) allPlain = false;
  line.putByte(QUOTE);
}

/** Appends a member whose value is a number. */
function count(member: Uint8Array, value: number): void {
  line.putBytes(member);
  // A whole number under 10^15 is its digits (-0 too: `${-0}` is 0); anything else as JSON writes it.
  if (value >= 0 && value < 1e15 && Number.isInteger(value)) line.putDigits(value);
  else line.put(num(value));
}

/** A number as JSON writes it: `${n}`, or null when not finite. */
function num(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/**
 * Appends a member whose value is a duration as the line writes it (logMs: milliseconds to two
 * decimals), from its whole hundredths: the text of `${logMs(ms)}`, which is the shortest that
 * reads back as the same double, and under 10^15 hundredths (15 digits at most) that is the
 * digits themselves. V8's double-to-text conversion took some 100 ns a duration, two or three a
 * line; the fraction's text is one of FRACTIONS.
 */
function duration(member: Uint8Array, value: number): void {
  const hundredths = Math.round(value * 100);
  if (!(hundredths >= 0 && hundredths < 1e15)) return json(member, num(hundredths / 100));
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths - whole * 100;
  line.putBytes(member);
  line.putDigits(whole);
  if (fraction !== 0) line.put(FRACTIONS[fraction]);
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
 * bindings as JSON members (e.g. `","gateway":"edge-1"`), worked out once per logger, in UTF-8.
 */
const afterTimeOf = new WeakMap<Logger, Uint8Array>();

let isoAt = 0;
let iso: Uint8Array = Buffer.alloc(0);
/**
 * The ISO time of `now` (Date.now()), as the logger's own lines carry it, made (as bytes: the
 * line is) once per millisecond instead of once per line.
 */
function isoOf(now: number): Uint8Array {
  if (now !== isoAt) {
    isoAt = now;
    iso = Buffer.from(new Date(now).toISOString(), 'latin1');
  }
  return iso;
}

/** Each level's line up to its time. */
const OPENING = {
  info: Buffer.from('{"level":"info","time":"', 'latin1'),
  warn: Buffer.from('{"level":"warn","time":"', 'latin1'),
  error: Buffer.from('{"level":"error","time":"', 'latin1'),
} as const;
/** Every line's end. */
const END = Buffer.from(',"msg":"request"}\n', 'latin1');

/**
 * The log phase: one line per request, whatever happened, written once when the downstream
 * response is finished or abandoned: `info` for answered requests and the client's failures,
 * `warn` for the upstream's and the gateway's, `error` for a gateway bug (with its error,
 * serialised as pino serialises an `err`).
 *
 * The line is the hot path's last cost: it is written as JSON text to the logger's own sink (so
 * it is batched with the logger's lines), not built as an object for a logger to walk; a log
 * writer's line is built as bytes in its batch (see `line`). `now` (Date.now()) and `totalMs`
 * (the record's elapsed()) are the log phase's one reading of each, which the metrics share.
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
  if (!logger.isLevelEnabled(level)) return;
  let afterTime = afterTimeOf.get(logger);
  if (afterTime === undefined) {
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    afterTime = Buffer.from(bindings === '' ? '"' : `",${bindings}`);
    afterTimeOf.set(logger, afterTime);
  }
  const sink = logger[LINE_SINK];
  if (sink.openLine === undefined) {
    line = OWN_LINE;
    line.openLine();
  } else line = sink.openLine();
  opening(level, afterTime, now);
  allPlain = true;
  putMembers(record, totalMs);
  if (!allPlain) {
    // A string JSON must escape: the line again, its members from the table.
    line.dropLine();
    opening(level, afterTime, now);
    line.put(referenceMembers(record, totalMs));
  }
  if (level === 'error' && failure?.cause !== undefined)
    json(ERR, JSON.stringify(pino.stdSerializers.err(failure.cause as Error)));
  line.putBytes(END);
  if (sink.closeLine !== undefined) sink.closeLine();
  else sink.write(OWN_LINE.take(false).toString());
}

/** The line up to its members: its level, its time and the logger's bindings. */
function opening(level: keyof typeof OPENING, afterTime: Uint8Array, now: number): void {
  line.putBytes(OPENING[level]);
  line.putBytes(isoOf(now));
  line.putBytes(afterTime);
}

/**
 * The line's members, field by field in FIELDS' order, each appended as its pieces: a call per
 * field through the table and a string per value put between quotes were most of the line's
 * cost. test/observe/log holds the line byte for byte equal to JSON.stringify of the table.
 */
function putMembers(r: RequestRecord, totalMs: number): void {
  const { failure, trace } = r;
  text(MEMBER.req_id, r.id);
  if (r.clientRequestId !== undefined) text(MEMBER.client_req_id, r.clientRequestId);
  if (trace.traceId !== undefined) text(MEMBER.trace_id, trace.traceId);
  text(MEMBER.client, r.clientAddress);
  text(MEMBER.method, r.method);
  text(MEMBER.host, r.host);
  text(MEMBER.path, r.path);
  if (r.upstreamPath !== undefined) text(MEMBER.upstream_path, r.upstreamPath);
  if (r.protocol !== undefined) text(MEMBER.protocol, r.protocol);
  if (r.route !== undefined) text(MEMBER.route, r.route);
  if (r.auth !== undefined) text(MEMBER.auth, r.auth);
  if (r.authHop !== undefined) text(MEMBER.auth_hop, r.authHop);
  if (r.user !== undefined) text(MEMBER.user, r.user);
  if (r.answeredBy !== undefined) text(MEMBER.answered_by, r.answeredBy);
  if (r.upstream !== undefined) text(MEMBER.upstream, r.upstream);
  if (r.target !== undefined) text(MEMBER.target, r.target);
  count(MEMBER.status, r.status);
  const grpc = grpcStatusRead(r);
  if (grpc !== undefined) count(MEMBER.grpc_status, grpc);
  if (r.cache !== undefined) text(MEMBER.cache, r.cache);
  if (r.staleCause !== undefined) text(MEMBER.stale_cause, r.staleCause);
  if (failure !== undefined) {
    text(MEMBER.error, failure.type);
    text(MEMBER.shape, failure.kind.shape);
    text(MEMBER.flag, failure.flag);
  }
  const stage = stageOf(r);
  if (stage !== undefined) text(MEMBER.stage, stage);
  if (failure !== undefined) text(MEMBER.details, failure.details);
  count(MEMBER.bytes_in, r.bytesIn);
  count(MEMBER.bytes_out, r.bytesOut);
  if (r.encoding !== undefined) {
    text(MEMBER.encoding, r.encoding);
    count(MEMBER.encoded_from, r.bytesBeforeEncoding);
    count(MEMBER.encoded_to, r.bytesAfterEncoding);
  }
  if (r.connectMs !== undefined) duration(MEMBER.connect_ms, r.connectMs);
  if (r.reusedConnection !== undefined) json(MEMBER.reused, r.reusedConnection ? 'true' : 'false');
  if (r.ttfbMs !== undefined) duration(MEMBER.ttfb_ms, r.ttfbMs);
  duration(MEMBER.total_ms, totalMs);
  json(MEMBER.upstream_reset, r.upstreamReset ? 'true' : 'false');
  json(MEMBER.client_aborted, r.clientAborted ? 'true' : 'false');
  if (r.upgraded) json(MEMBER.upgraded, 'true');
  if (r.acme !== undefined) text(MEMBER.acme, r.acme);
  if (r.interimDropped) count(MEMBER.interim_dropped, r.interimDropped);
  if (r.panic) json(MEMBER.panic, 'true');
  if (r.hashHome !== undefined) text(MEMBER.hash_home, r.hashHome);
  count(MEMBER.attempts, r.tries.length);
  const listed = listedTries(r);
  if (listed !== undefined) json(MEMBER.tries, JSON.stringify(listed));
  if (r.retrySkipped !== undefined) text(MEMBER.retry_skipped, r.retrySkipped);
  if (r.heldMs !== undefined) duration(MEMBER.held_ms, r.heldMs);
  if (r.spooled !== undefined && r.spooled !== 0) count(MEMBER.spooled, r.spooled);
}

/** The line's members from the table, through JSON.stringify (which leaves out an undefined value). */
function referenceMembers(record: RequestRecord, totalMs: number): string {
  const fields = lineFields(record);
  fields.total_ms = round(totalMs); // the line's one reading (a key set again keeps its place)
  const members = JSON.stringify(fields).slice(1, -1);
  return members === '' ? '' : `,${members}`;
}

/** The line's fields as an object (the README's reference of the line is checked against it). */
export function lineFields(record: RequestRecord): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map(([name, read]) => [name, read(record)]));
}
