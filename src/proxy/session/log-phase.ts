import { logRequest } from '../../observe/log/access-log.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { endServerSpan, type RequestSpans } from '../../observe/tracing/spans.ts';
import { originOf } from './record-of.ts';
import type { Runtime } from './runtime.ts';

/**
 * The log phase, for every request (a refusal at the parser's too): the one access-log line,
 * the request's metrics by who made its answer (originOf), and the end of its spans.
 */
export function logPhase(runtime: Runtime, record: RequestRecord, spans: RequestSpans | undefined): void {
  logRequest(runtime.logger, record);
  runtime.metrics.requestEnded(record, originOf(record));
  endServerSpan(spans, record);
}
