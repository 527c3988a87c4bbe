import type { Logger } from 'pino';
import type { RequestRecord } from './request-record.ts';

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);

/**
 * The log phase: one line per request, whatever happened, written once when the
 * downstream response is finished or abandoned. Field names are documented in the README.
 */
export function logRequest(logger: Logger, record: RequestRecord): void {
  const failure = record.failure;
  const line = {
    req_id: record.id,
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
    connect_ms: round(record.connectMs),
    reused: record.reusedConnection,
    ttfb_ms: round(record.ttfbMs),
    total_ms: round(record.elapsed()),
    upstream_reset: record.upstreamReset,
    client_aborted: record.clientAborted,
    upgraded: record.upgraded || undefined,
    attempts: record.tries.length,
    // Only when there was more than one: the common line stays short.
    tries: record.tries.length > 1 ? record.tries : undefined,
  };
  if (failure === undefined || failure.kind.shape === 'client') logger.info(line, 'request');
  else if (failure.kind.shape === 'internal') logger.error({ ...line, err: failure.cause }, 'request');
  else logger.warn(line, 'request');
}
