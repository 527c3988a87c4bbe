import pino, { type Logger } from 'pino';
import type { RequestRecord } from './request-record.ts';

const round = (ms: number) => Math.round(ms * 100) / 100;

interface Destination {
  write(line: string): unknown;
}

/** Where a logger's lines go and what each carries, worked out once per logger. */
interface LineTarget {
  readonly destination: Destination;
  /** The logger's bindings as JSON members, e.g. `"gateway":"edge-1"`. */
  readonly bindings: string;
}

const targets = new WeakMap<Logger, LineTarget>();

function targetOf(logger: Logger): LineTarget {
  let target = targets.get(logger);
  if (target === undefined) {
    const destination = (logger as unknown as Record<symbol, Destination>)[pino.symbols.streamSym];
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    target = { destination, bindings };
    targets.set(logger, target);
  }
  return target;
}

let isoAt = 0;
let iso = '';
/** pino's isoTime, computed once per millisecond instead of once per line. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    isoAt = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

const str = JSON.stringify;

/**
 * The log phase: one line per request, whatever happened, written once when the
 * downstream response is finished or abandoned. Field names are documented in the README.
 *
 * The line is the hot path's last cost, so it is written as JSON text directly (the same
 * line pino would write, to the same destination) rather than built as an object for
 * pino to walk; a gateway bug's line still goes through pino, which serialises the error.
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
  if (level === 'error') {
    logger.error({ ...lineFields(record), err: failure?.cause }, 'request');
    return;
  }
  const target = targetOf(logger);
  let line = `{"level":"${level}","time":"${isoNow()}"`;
  if (target.bindings !== '') line += `,${target.bindings}`;
  line += `,"req_id":${str(record.id)}`;
  if (record.clientRequestId !== undefined) line += `,"client_req_id":${str(record.clientRequestId)}`;
  if (record.trace.traceId !== undefined) line += `,"trace_id":${str(record.trace.traceId)}`;
  line += `,"client":${str(record.clientAddress)},"method":${str(record.method)},"host":${str(record.host)},"path":${str(record.path)}`;
  if (record.route !== undefined) line += `,"route":${str(record.route)}`;
  if (record.upstream !== undefined) line += `,"upstream":${str(record.upstream)}`;
  if (record.target !== undefined) line += `,"target":${str(record.target)}`;
  line += `,"status":${record.status}`;
  if (failure !== undefined) {
    line += `,"error":"${failure.type}","shape":"${failure.kind.shape}","flag":"${failure.kind.flag}"`;
  }
  if (record.stage !== undefined) line += `,"stage":"${record.stage}"`;
  if (failure !== undefined) line += `,"details":${str(failure.details)}`;
  line += `,"bytes_in":${record.bytesIn},"bytes_out":${record.bytesOut}`;
  if (record.connectMs !== undefined) line += `,"connect_ms":${round(record.connectMs)}`;
  if (record.reusedConnection !== undefined) line += `,"reused":${record.reusedConnection}`;
  if (record.ttfbMs !== undefined) line += `,"ttfb_ms":${round(record.ttfbMs)}`;
  line += `,"total_ms":${round(record.elapsed())},"upstream_reset":${record.upstreamReset},"client_aborted":${record.clientAborted}`;
  if (record.upgraded) line += ',"upgraded":true';
  if (record.interimDropped > 0) line += `,"interim_dropped":${record.interimDropped}`;
  if (record.panic) line += ',"panic":true';
  if (record.hashHome !== undefined) line += `,"hash_home":${str(record.hashHome)}`;
  line += `,"attempts":${record.tries.length}`;
  // Only when there was more than one: the common line stays short.
  if (record.tries.length > 1) line += `,"tries":${str(record.tries)}`;
  if (record.retrySkipped !== undefined) line += `,"retry_skipped":"${record.retrySkipped}"`;
  target.destination.write(`${line},"msg":"request"}\n`);
}

/** The line's fields as an object, for pino (and for the test that keeps both writers in step). */
export function lineFields(record: RequestRecord): Record<string, unknown> {
  const failure = record.failure;
  const optional = (ms: number | undefined) => (ms === undefined ? undefined : round(ms));
  return {
    req_id: record.id,
    client_req_id: record.clientRequestId,
    trace_id: record.trace.traceId,
    client: record.clientAddress,
    method: record.method,
    host: record.host,
    path: record.path,
    route: record.route,
    upstream: record.upstream,
    target: record.target,
    status: record.status,
    error: failure?.type,
    shape: failure?.kind.shape,
    flag: failure?.kind.flag,
    stage: record.stage,
    details: failure?.details,
    bytes_in: record.bytesIn,
    bytes_out: record.bytesOut,
    connect_ms: optional(record.connectMs),
    reused: record.reusedConnection,
    ttfb_ms: optional(record.ttfbMs),
    total_ms: round(record.elapsed()),
    upstream_reset: record.upstreamReset,
    client_aborted: record.clientAborted,
    upgraded: record.upgraded || undefined,
    interim_dropped: record.interimDropped || undefined,
    panic: record.panic || undefined,
    hash_home: record.hashHome,
    attempts: record.tries.length,
    tries: record.tries.length > 1 ? record.tries : undefined,
    retry_skipped: record.retrySkipped,
  };
}
