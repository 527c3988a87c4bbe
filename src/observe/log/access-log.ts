import pino from 'pino';
import { logMs as round } from './duration.ts';
import type { Logger } from './logger.ts';
import { LINE_SINK } from './logger.ts';
import type { RequestRecord } from './request-record.ts';

const optional = (ms: number | undefined) => (ms === undefined ? undefined : round(ms));

/**
 * The access line's fields, in the order they are written, each read off the record; a field
 * whose value is undefined is left out. Field names are documented in the README.
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
  [
    'tries',
    (r) =>
      r.tries.length > 1 || (r.tries.length === 1 && r.tries[0].error !== r.failure?.type)
        ? r.tries
        : undefined,
  ],
  ['retry_skipped', (r) => r.retrySkipped],
  ['held_ms', (r) => optional(r.heldMs)],
  ['spooled', (r) => (r.spooled === 0 ? undefined : r.spooled)],
];

/** A string JSON carries as it is: printable ASCII without a quote or a backslash. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * Puts a field's value as JSON text in the line's pieces from `n` on, and returns the next
 * free index. The line's values are mostly short plain strings, numbers and booleans, which
 * need no JSON.stringify (the text is the same, and a line has some 30 of them); anything
 * else goes through it. A plain string goes in as itself between two quotes: no string is
 * made for it.
 */
function putJson(parts: string[], n: number, value: unknown): number {
  switch (typeof value) {
    case 'string':
      if (!PLAIN.test(value)) break;
      parts[n] = '"';
      parts[n + 1] = value;
      parts[n + 2] = '"';
      return n + 3;
    case 'number':
      parts[n] = Number.isFinite(value) ? `${value}` : 'null';
      return n + 1;
    case 'boolean':
      parts[n] = value ? 'true' : 'false';
      return n + 1;
  }
  parts[n] = JSON.stringify(value);
  return n + 1;
}

/**
 * Each field's name as it opens its member (`,"name":`), made once: the line is built by
 * appending, and every piece appended is a string V8 allocates per request.
 */
const MEMBERS: ReadonlyArray<readonly [string, (record: RequestRecord) => unknown]> = FIELDS.map(
  ([name, read]) => [`,"${name}":`, read] as const,
);

/** The gRPC status the client read: the upstream's own, passed through, or the gateway's answer. */
function grpcStatus(record: RequestRecord): number | undefined {
  return record.upstreamGrpcStatus ?? record.gatewayGrpcStatus;
}

/** The bindings of each logger as JSON members (e.g. `"gateway":"edge-1"`), worked out once per logger. */
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
 * The line is the hot path's last cost: it is written as JSON text from the field table, to
 * the logger's own sink (so it is batched with the logger's lines), not built as an object for
 * a logger to walk.
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
    bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    bindingsOf.set(logger, bindings);
  }
  // The pieces are joined once: appending them one by one made a string per piece (some 50 a
  // line). They are written by index into one array kept for every line, never emptied (an
  // emptied array gives its storage back, and every line would grow it again).
  const parts = PARTS;
  parts[0] = '{"level":"';
  parts[1] = level;
  parts[2] = '","time":"';
  parts[3] = isoNow();
  parts[4] = '"';
  let n = 5;
  if (bindings !== '') {
    parts[n++] = ',';
    parts[n++] = bindings;
  }
  for (const [member, read] of MEMBERS) {
    const value = read(record);
    if (value === undefined) continue;
    parts[n++] = member;
    n = putJson(parts, n, value);
  }
  if (level === 'error' && failure?.cause !== undefined) {
    parts[n++] = ',"err":';
    parts[n++] = JSON.stringify(pino.stdSerializers.err(failure.cause as Error));
  }
  parts[n++] = ',"msg":"request"}\n';
  // Only a line shorter than the last leaves pieces past its end: cut (a few, no storage given back).
  if (parts.length > n) parts.length = n;
  logger[LINE_SINK].write(parts.join(''));
}

/** The pieces of the line being built: one array for every line (a line is built in one go, never re-entered). */
const PARTS: string[] = [];

/** The line's fields as an object (the README's reference of the line is checked against it). */
export function lineFields(record: RequestRecord): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map(([name, read]) => [name, read(record)]));
}
