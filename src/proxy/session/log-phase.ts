import { logRequest } from '../../observe/log/access-log.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { endServerSpan, type RequestSpans } from '../../observe/tracing/spans.ts';
import { originOf } from './record-of.ts';
import type { Runtime } from './runtime.ts';

/**
 * The log phase, for every request (a refusal at the parser's too): the one access-log line,
 * the request's metrics by who made its answer (originOf), the gateway's count of a request it
 * answered with its own error (a fleet's config canary judges it: GatewayCounter), and the end
 * of its spans. The clock
 * is read once for both (a reading costs some 40 ns; Date.now() is a call into V8's runtime):
 * the line's time and the activity panel's second, the line's total_ms and the duration's histogram.
 */
export function logPhase(runtime: Runtime, record: RequestRecord, spans: RequestSpans | undefined): void {
  const now = Date.now();
  const totalMs = record.elapsed();
  logRequest(runtime.logger, record, now, totalMs);
  const origin = originOf(record);
  runtime.metrics.requestEnded(record, origin, now, totalMs);
  // The gateway's own 500 (a plugin threw or overran, a gateway bug), not the upstream's status
  // with a body cut after it: a plain request, which ends with no failure, pays one comparison.
  if (record.failure !== undefined && origin === 'gateway' && record.failure.type === 'proxy_internal_error')
    runtime.gatewayCounts.ownError();
  endServerSpan(spans, record);
}
