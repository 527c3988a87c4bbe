import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord, Producer } from '../log-record.ts';
import { knownType } from './candor-reader.ts';
import { finiteNumber, isoTime, nonEmpty, objectAt, parseObject } from './json-line.ts';

/**
 * statusDetails values (the docs' "HTTP failure messages" table) that say the load balancer
 * answered itself, and why; `response_sent_by_backend` and the early non-error response are
 * the backend's own answer.
 */
const DETAILS: ReadonlyArray<readonly [RegExp, FailureType]> = [
  [/^failed_to_connect_to_backend$/, 'connection_refused'],
  [/^failed_to_pick_backend/, 'destination_unavailable'],
  [/^backend_timeout$/, 'http_response_timeout'],
  [/^backend_connection_closed_before_data_sent_to_client$/, 'connection_terminated'],
  [/^backend_connection_closed_after_partial_response_sent$/, 'http_response_incomplete'],
  [/^backend_response_corrupted$/, 'http_response_transfer_coding'],
  [/^(?:denied|throttled)_by_security_policy$/, 'http_request_denied'],
];
const BACKEND_ANSWERED = /^(?:response_sent_by_backend|backend_early_response_with_non_error_status)$/;
const CLIENT_LEFT = /^client_disconnected_/;

/** "0.512345s" → 512.345 ms. */
function latencyMs(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(value) : null;
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The RFC 9209 error type in jsonPayload.proxyStatus ('…; error="connection_timeout"; details=…'). */
function proxyStatusType(value: unknown): FailureType | undefined {
  const m = typeof value === 'string' ? /\berror="?([a-z_]+)"?/.exec(value) : null;
  return m ? knownType(m[1]) : undefined;
}

/**
 * Google Cloud's external Application Load Balancer (HTTP(S) load balancer) request logs, one
 * Cloud Logging entry per line (a sink exported to Cloud Storage, or `gcloud logging read
 * --format=json | jq -c '.[]'`), built from
 * https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring#what_is_logged
 * and its statusDetails table (#failure-messages): httpRequest{status, latency, remoteIp,
 * serverIp, requestMethod, requestUrl}, jsonPayload.statusDetails (and proxyStatus, an RFC 9209
 * Proxy-Status, where the entry has one), resource.labels.backend_service_name, timestamp, trace.
 * No such server runs here: its fixture is built from that list (fixtures/build-doc-fixtures.ts).
 *
 * statusDetails says who answered: the backend (passed through) or the load balancer, and why.
 * It does not separate a refused connection from a connect timeout (failed_to_connect_to_backend
 * covers both; a proxyStatus error type, when present, does).
 */
export const gcpLbReader: LogReader = {
  format: 'gcp-lb',
  title: 'Google Cloud load balancer log (JSON entries)',
  sniff: (line) =>
    line.startsWith('{') &&
    line.includes('"httpRequest":') &&
    (line.includes('LoadBalancerLogEntry') ||
      line.includes('"http_load_balancer"') ||
      line.includes('_lb_rule"')),
  read(line): LogRecord | undefined {
    if (!line.includes('"httpRequest":')) return undefined;
    const entry = parseObject(line);
    const http = objectAt(entry?.httpRequest);
    if (entry === undefined || http === undefined) return undefined;
    const time = isoTime(entry.timestamp);
    const payload = objectAt(entry.jsonPayload);
    const details = nonEmpty(payload?.statusDetails) ?? '';
    // A client that left before any response has no status: none was sent.
    const status = finiteNumber(http.status) ?? (CLIENT_LEFT.test(details) ? 0 : undefined);
    if (time === undefined || status === undefined) return undefined;
    let failure: FailureType | undefined;
    let producedBy: Producer | undefined;
    if (BACKEND_ANSWERED.test(details)) producedBy = status >= 500 ? 'upstream' : undefined;
    else if (!CLIENT_LEFT.test(details)) {
      failure = proxyStatusType(payload?.proxyStatus) ?? DETAILS.find(([p]) => p.test(details))?.[1];
      // Any other statusDetails is the load balancer's own answer; with none, nothing says who.
      if (failure !== undefined || (status >= 500 && details !== '')) producedBy = 'proxy';
    }
    const latency = latencyMs(http.latency);
    const trace = nonEmpty(entry.trace);
    return {
      kind: 'request',
      time,
      status,
      upstream: nonEmpty(objectAt(objectAt(entry.resource)?.labels)?.backend_service_name),
      target: nonEmpty(http.serverIp),
      failure,
      producedBy,
      // latency runs until the last byte: the wait of a timeout, an upper bound of an answer's.
      waitMs: failure === undefined || failure === 'http_response_timeout' ? latency : undefined,
      clientAborted: CLIENT_LEFT.test(details) || undefined,
      requestId: trace === undefined ? undefined : trace.slice(trace.lastIndexOf('/') + 1),
    };
  },
  blindSpot:
    "Google's load balancer logs failed_to_connect_to_backend for a refused connection and a connect timeout alike (counted as refused unless proxyStatus names the error); latency runs to the last byte, so timeout advice is rough.",
};
