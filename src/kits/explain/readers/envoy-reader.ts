import type { LogReader } from '../log-reader.ts';
import type { LogRecord, RequestLine } from '../log-record.ts';
import { readFlags } from './envoy-flags.ts';
import { oneLine } from './json-line.ts';

// Envoy's default format (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#default-format-string):
// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
// %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
const ENVOY =
  /^\[(\S+)\] "([^"]*)" (\d+) (\S+) (?:\d+|-) (?:\d+|-) (\d+|-) (\d+|-) "[^"]*" "[^"]*" "([^"]*)" "([^"]*)" "([^"]*)"$/;

// Istio's default (EnvoyTextLogFormat in istio/istio pilot/pkg/model/telemetry_logging.go, 1.9 on):
// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
// %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"
// %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
// %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
const ISTIO =
  /^\[(\S+)\] "([^"]*)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (?:\d+|-) (?:\d+|-) (\d+|-) (\d+|-) "[^"]*" "[^"]*" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) \S+ \S+ \S+ \S+ \S+$/;

/** What every Envoy-based format logs about a request, as text ("-" when unset). */
interface Fields {
  readonly start: string;
  readonly request: string;
  readonly status: string;
  readonly flags: string;
  /** Response code details, connection termination details, transport failure reason. */
  readonly details: string;
  readonly duration: string;
  readonly serviceTime: string;
  readonly requestId: string;
  readonly authority: string;
  readonly host: string;
  readonly cluster: string;
}

let lastSecond = '';
let lastSecondMs = Number.NaN;

/** "2026-11-21T13:11:00.596Z": each second is parsed once (lines come in time order). */
function startTime(text: string): number {
  if (text.length === 24 && text[19] === '.' && text[23] === 'Z') {
    const second = text.slice(0, 19);
    if (second !== lastSecond) {
      lastSecond = second;
      lastSecondMs = Date.parse(`${second}Z`);
    }
    return lastSecondMs + Number(text.slice(20, 23));
  }
  return Date.parse(text);
}

const unset = (value: string | undefined) => value === undefined || value === '-' || value === '';
const number = (value: string) => (unset(value) ? undefined : Number(value));

function requestLine(f: Fields): RequestLine | undefined {
  // A TCP proxy's line ("- - -") is not a request.
  if (f.request === '- - -' || f.request === '') return undefined;
  const time = startTime(f.start);
  const status = Number(f.status);
  if (!Number.isFinite(time) || !Number.isInteger(status) || status > 599) return undefined;
  const { failure, clientAborted, proxyMade } = readFlags(f.flags, f.details);
  const slow = failure === 'http_response_timeout';
  const host = unset(f.host) ? undefined : f.host.replace(/^[a-z]+:\/\//, '');
  const upstream = !unset(f.cluster) ? f.cluster : unset(f.authority) ? undefined : f.authority;
  const waitMs = slow ? number(f.duration) : number(f.serviceTime);
  return {
    kind: 'request',
    time,
    status,
    upstream,
    target: host,
    requestId: unset(f.requestId) ? undefined : f.requestId,
    failure,
    waitMs: waitMs !== undefined && Number.isFinite(waitMs) ? waitMs : undefined,
    clientAborted: clientAborted || undefined,
    producedBy: f.details.includes('via_upstream') ? 'upstream' : proxyMade ? 'proxy' : undefined,
  };
}

/**
 * Envoy's default access log format. The response flags give the failure (envoy-flags.ts);
 * the upstream is the request's authority (the format names no cluster), the target the
 * upstream host, the wait X-Envoy-Upstream-Service-Time (DURATION for a timeout). Fixture
 * envoy.log: built from the documentation (fixtures/write-envoy-fixtures.ts), not recorded.
 */
export const envoyReader: LogReader = {
  format: 'envoy',
  title: 'Envoy access log (default format)',
  sniff: (line) => ENVOY.test(line),
  read(line): LogRecord | undefined {
    const m = ENVOY.exec(line);
    if (!m) return undefined;
    return requestLine({
      start: m[1],
      request: m[2],
      status: m[3],
      flags: m[4],
      details: '',
      duration: m[5],
      serviceTime: m[6],
      requestId: m[7],
      authority: m[8],
      host: m[9],
      cluster: '-',
    });
  },
  blindSpot:
    "Envoy's default format has no response code details: UF stands for every failed connect (refused, timed out, failed TLS handshake: read as connection_refused), and a 5xx without a flag is counted as cause unknown (most are the upstream's own, but Envoy's filters can answer without a flag). Istio's format, or %RESPONSE_CODE_DETAILS% and %UPSTREAM_TRANSPORT_FAILURE_REASON% added to yours, tell them apart.",
};

/**
 * Istio's default proxy access log format (TEXT encoding): Envoy's, with response code details,
 * connection termination details and the upstream transport failure reason, which refine the
 * flags ("delayed_connect_error:_111": refused; a TLS error: the handshake), and "via_upstream"
 * says the upstream produced the status. The upstream is the cluster. Fixture istio.log: built
 * from the documentation (fixtures/write-envoy-fixtures.ts), not recorded.
 */
export const istioReader: LogReader = {
  format: 'istio',
  title: 'Istio proxy access log (default TEXT format)',
  sniff: (line) => ISTIO.test(line),
  read(line): LogRecord | undefined {
    const m = ISTIO.exec(line);
    if (!m) return undefined;
    return requestLine({
      start: m[1],
      request: m[2],
      status: m[3],
      flags: m[4],
      details: `${m[5]} ${m[6]} ${m[7]}`,
      duration: m[8],
      serviceTime: m[9],
      requestId: m[10],
      authority: m[11],
      host: m[12],
      cluster: m[13],
    });
  },
};

const text = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '-';

/**
 * Istio's JSON encoding (accessLogEncoding: JSON), the same operators under its key names
 * (start_time, response_code, response_flags, response_code_details, …); Envoy's
 * json_format with those names reads the same. Fixture istio-json.log: built from the
 * documentation (fixtures/write-envoy-fixtures.ts), not recorded.
 */
export const envoyJsonReader: LogReader = {
  format: 'envoy-json',
  title: 'Envoy / Istio access log (JSON)',
  sniff: (line) => line.startsWith('{') && line.includes('"response_flags"') && line.includes('"start_time"'),
  read(line): LogRecord | undefined {
    if (!line.startsWith('{') || !line.includes('"response_flags"')) return undefined;
    let entry: Record<string, unknown>;
    try {
      entry = oneLine(line, JSON.parse(line));
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object' || typeof entry.start_time !== 'string') return undefined;
    return requestLine({
      start: entry.start_time,
      request: `${text(entry.method)} ${text(entry.path)} ${text(entry.protocol)}`,
      status: text(entry.response_code),
      flags: text(entry.response_flags),
      details: `${text(entry.response_code_details)} ${text(entry.connection_termination_details)} ${text(entry.upstream_transport_failure_reason)}`,
      duration: text(entry.duration),
      serviceTime: text(entry.upstream_service_time),
      requestId: text(entry.request_id),
      authority: text(entry.authority),
      host: text(entry.upstream_host),
      cluster: text(entry.upstream_cluster),
    });
  },
};
