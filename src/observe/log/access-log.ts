import pino from 'pino';
import { logMs as round } from './duration.ts';
import type { Logger } from './logger.ts';
import { LINE_SINK } from './logger.ts';
import type { RequestRecord } from './request-record.ts';

const optional = (ms: number | undefined) => (ms === undefined ? undefined : round(ms));

/**
 * The access line's fields, in the order they are written, each read off the record; a field
 * whose value is undefined is left out. Field names are documented in the README. This table is
 * the line's reference: the line is written by membersOf, field by field in this order, and
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
  ['upstream', (r) => r.upstream],
  ['target', (r) => r.target],
  ['status', (r) => r.status],
  ['grpc_status', grpcStatus],
  ['cache', (r) => r.cache],
  ['stale_cause', (r) => r.staleCause],
  ['error', (r) => r.failure?.type],
  ['shape', (r) => r.failure?.kind.shape],
  ['flag', (r) => r.failure?.flag],
  ['stage', (r) => r.stage],
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

/** Whether every string the line being written put between quotes as it is was plain (see `raw`). */
let allPlain = true;

/**
 * A string value, put in the line as it is between two quotes: right for a plain string (the
 * common one: ids, addresses, names, a path); anything else clears `allPlain`, and the line is
 * written again from the table (referenceMembers).
 */
function raw(value: string): string {
  if (!PLAIN.test(value)) allPlain = false;
  return value;
}

/** A number as JSON writes it: `${n}`, or null when not finite. */
function num(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/**
 * A duration as the line writes it (logMs: milliseconds to two decimals), its text made from
 * its whole hundredths: the text of `${logMs(ms)}`, which is the shortest that reads back as the
 * same double, and under 10^15 hundredths (15 digits at most) that is the digits themselves.
 * V8's double-to-text conversion took some 100 ns a duration, two or three a line.
 */
function ms(value: number): string {
  const hundredths = Math.round(value * 100);
  if (!(hundredths >= 0 && hundredths < 1e15)) return num(hundredths / 100);
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths - whole * 100;
  if (fraction === 0) return `${whole}`;
  if (fraction % 10 === 0) return `${whole}.${fraction / 10}`;
  return fraction < 10 ? `${whole}.0${fraction}` : `${whole}.${fraction}`;
}

/** The gRPC status the client read: the upstream's own, passed through, or the gateway's answer. */
function grpcStatus(record: RequestRecord): number | undefined {
  return record.upstreamGrpcStatus ?? record.gatewayGrpcStatus;
}

/** The attempts the line lists: every one, unless a lone attempt ended as the request did (the line's own fields tell it). */
function listedTries(record: RequestRecord): RequestRecord['tries'] | undefined {
  const { tries } = record;
  return tries.length > 1 || (tries.length === 1 && tries[0].error !== record.failure?.type)
    ? tries
    : undefined;
}

/** The bindings of each logger as JSON members after a comma (e.g. `,"gateway":"edge-1"`), worked out once per logger. */
const bindingsOf = new WeakMap<Logger, string>();

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
  let bindings = bindingsOf.get(logger);
  if (bindings === undefined) {
    const members = JSON.stringify(logger.bindings()).slice(1, -1);
    bindings = members === '' ? '' : `,${members}`;
    bindingsOf.set(logger, bindings);
  }
  const head = `{"level":"${level}","time":"${isoNow()}"${bindings}`;
  const err =
    level === 'error' && failure?.cause !== undefined
      ? `,"err":${JSON.stringify(pino.stdSerializers.err(failure.cause as Error))}`
      : '';
  allPlain = true;
  const members = membersOf(record);
  logger[LINE_SINK].write(`${head}${allPlain ? members : referenceMembers(record)}${err},"msg":"request"}\n`);
}

/**
 * The line's members, field by field in FIELDS' order, as one chain of appends (V8 makes a rope
 * of them, flattened once when the batch is written): a call per field through the table, a
 * string per value put between quotes and an array joined per line were most of the line's
 * cost. Strings go in as they are (`raw`): a line with one that is not plain is written from the
 * table instead (referenceMembers). test/observe/log holds the two byte for byte equal.
 */
function membersOf(r: RequestRecord): string {
  const { failure, trace, tries } = r;
  let line = `,"req_id":"${raw(r.id)}"`;
  if (r.clientRequestId !== undefined) line += `,"client_req_id":"${raw(r.clientRequestId)}"`;
  if (trace.traceId !== undefined) line += `,"trace_id":"${raw(trace.traceId)}"`;
  line += `,"client":"${raw(r.clientAddress)}","method":"${raw(r.method)}","host":"${raw(r.host)}","path":"${raw(r.path)}"`;
  if (r.upstreamPath !== undefined) line += `,"upstream_path":"${raw(r.upstreamPath)}"`;
  if (r.protocol !== undefined) line += `,"protocol":"${raw(r.protocol)}"`;
  if (r.route !== undefined) line += `,"route":"${raw(r.route)}"`;
  if (r.auth !== undefined) line += `,"auth":"${raw(r.auth)}"`;
  if (r.upstream !== undefined) line += `,"upstream":"${raw(r.upstream)}"`;
  if (r.target !== undefined) line += `,"target":"${raw(r.target)}"`;
  line += `,"status":${num(r.status)}`;
  const grpc = grpcStatus(r);
  if (grpc !== undefined) line += `,"grpc_status":${num(grpc)}`;
  if (r.cache !== undefined) line += `,"cache":"${raw(r.cache)}"`;
  if (r.staleCause !== undefined) line += `,"stale_cause":"${raw(r.staleCause)}"`;
  if (failure !== undefined)
    line += `,"error":"${raw(failure.type)}","shape":"${raw(failure.kind.shape)}","flag":"${raw(failure.flag)}"`;
  if (r.stage !== undefined) line += `,"stage":"${raw(r.stage)}"`;
  if (failure !== undefined) line += `,"details":"${raw(failure.details)}"`;
  line += `,"bytes_in":${num(r.bytesIn)},"bytes_out":${num(r.bytesOut)}`;
  if (r.encoding !== undefined)
    line += `,"encoding":"${raw(r.encoding)}","encoded_from":${num(r.bytesBeforeEncoding)},"encoded_to":${num(r.bytesAfterEncoding)}`;
  if (r.connectMs !== undefined) line += `,"connect_ms":${ms(r.connectMs)}`;
  if (r.reusedConnection !== undefined) line += `,"reused":${r.reusedConnection}`;
  if (r.ttfbMs !== undefined) line += `,"ttfb_ms":${ms(r.ttfbMs)}`;
  line += `,"total_ms":${ms(r.elapsed())},"upstream_reset":${r.upstreamReset},"client_aborted":${r.clientAborted}`;
  if (r.upgraded) line += ',"upgraded":true';
  if (r.acme !== undefined) line += `,"acme":"${raw(r.acme)}"`;
  if (r.interimDropped) line += `,"interim_dropped":${num(r.interimDropped)}`;
  if (r.panic) line += ',"panic":true';
  if (r.hashHome !== undefined) line += `,"hash_home":"${raw(r.hashHome)}"`;
  line += `,"attempts":${tries.length}`;
  const listed = listedTries(r);
  if (listed !== undefined) line += `,"tries":${JSON.stringify(listed)}`;
  if (r.retrySkipped !== undefined) line += `,"retry_skipped":"${raw(r.retrySkipped)}"`;
  if (r.heldMs !== undefined) line += `,"held_ms":${ms(r.heldMs)}`;
  if (r.spooled !== undefined && r.spooled !== 0) line += `,"spooled":${num(r.spooled)}`;
  return line;
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
