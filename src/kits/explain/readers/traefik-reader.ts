import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord, Producer } from '../log-record.ts';
import { parseCommonLogTime } from '../log-time.ts';
import { finiteNumber, isoTime, nonEmpty, objectAt, parseObject } from './json-line.ts';

/**
 * Traefik's access log in JSON (`accessLog.format: json`), built from the field list of
 * https://doc.traefik.io/traefik/observability/access-logs/#limiting-the-fieldsincluding-headers
 * (StartUTC, Duration and OriginDuration in nanoseconds, DownstreamStatus, OriginStatus,
 * RouterName, ServiceName, ServiceURL, ServiceAddr, RetryAttempts, ClientHost, RequestMethod,
 * RequestPath; kept request headers as `request_<Name>`).
 * No such server runs here: its fixture is built from that list (fixtures/build-doc-fixtures.ts).
 *
 * What the fields can and cannot tell, from how Traefik fills them: OriginStatus is captured
 * around the whole router (pkg/middlewares/accesslog AddOriginFields on the entry point), so
 * the 502 or 504 Traefik writes itself when a server is unreachable or slow lands in it exactly
 * as a server's own would: a 5xx from a server that was picked has no cause here. Two answers
 * are certainly Traefik's own: a 503 from a router with no server (ServiceName, ServiceURL
 * and ServiceAddr are set around each server's proxy, once the load balancer picked one:
 * pkg/server/service getLoadBalancerServiceHandler; so none was healthy, or a circuit breaker
 * was open) and a 404 with no router (nothing matched). RetryAttempts counts failed attempts
 * before the last without naming their failure.
 */
export const traefikReader: LogReader = {
  format: 'traefik',
  title: 'Traefik access log (JSON)',
  // DownstreamStatus is Traefik's own name, and the one field explain cannot do without (an
  // operator may drop the others: accessLog.fields.names).
  sniff: (line) => line.startsWith('{') && line.includes('"DownstreamStatus":'),
  read(line): LogRecord | undefined {
    if (!line.includes('"DownstreamStatus":')) return undefined;
    const entry = parseObject(line);
    if (entry === undefined) return undefined;
    const status = finiteNumber(entry.DownstreamStatus);
    const start = isoTime(entry.StartUTC);
    const durationNs = finiteNumber(entry.Duration);
    const time =
      start !== undefined && durationNs !== undefined ? start + durationNs / 1e6 : isoTime(entry.time);
    if (status === undefined || time === undefined) return undefined;
    const router = nonEmpty(entry.RouterName);
    const target = nonEmpty(entry.ServiceAddr) ?? urlHost(entry.ServiceURL);
    const { failure, producedBy } = traefikOwn(status, router, target);
    const originNs = finiteNumber(entry.OriginDuration);
    const retries = finiteNumber(entry.RetryAttempts);
    return {
      kind: 'request',
      time,
      status,
      // With no server picked there is no ServiceName: the router names the way in (with the
      // Docker and Kubernetes providers, router and service are usually named alike).
      upstream: nonEmpty(entry.ServiceName) ?? router,
      target,
      failure,
      producedBy,
      // OriginDuration spans the whole answer, body included: an upper bound of the wait for the head.
      waitMs: originNs !== undefined && target !== undefined ? originNs / 1e6 : undefined,
      untypedRetries: retries !== undefined && retries > 0 ? retries : undefined,
      clientAborted: status === 499 || undefined,
      requestId: nonEmpty(entry['request_X-Request-Id']),
    };
  },
  // Traefik's own log names the cause of each 502/504 it made ("'502 Bad Gateway' caused by: dial
  // tcp …: connect: connection refused", at log level DEBUG); explain does not read it yet.
  causesIn: 'traefik-debug',
  blindSpot:
    "Traefik's access log writes its own 502/504 (upstream refused, timed out, reset) into OriginStatus just as an upstream's own 5xx: a 5xx from a server that was picked has no cause here; its retries (RetryAttempts) are counted without a type. Its DEBUG log names the causes (\"'502 Bad Gateway' caused by: …\").",
};

/**
 * The two answers that are certainly Traefik's own (see traefikReader): a 503 from a router with
 * no server picked, a 404 with no router.
 */
function traefikOwn(
  status: number,
  router: string | undefined,
  target: string | undefined,
): { failure?: FailureType; producedBy?: Producer } {
  if (status === 503 && router !== undefined && target === undefined)
    return { failure: 'destination_unavailable', producedBy: 'proxy' };
  if (status === 404 && router === undefined)
    return { failure: 'destination_not_found', producedBy: 'proxy' };
  return {};
}

// <remote_IP_address> - <client_user_name_if_available> [<timestamp>] "<request_method> <request_path>
// <request_protocol>" <HTTP_status> <content-length> "<request_referrer>" "<request_user_agent>"
// <number_of_requests_received_since_Traefik_started> "<Traefik_router_name>" "<Traefik_server_URL>"
// <request_duration_in_ms>ms
const CLF =
  /^(\S+) - \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (?:\d+|-) "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*" \d+ "([^"]*)" "([^"]*)" (\d+)ms$/;

/**
 * Traefik's default access log, the Common Log Format with Traefik's four fields after it
 * (request count, router, server URL, duration), from the format given in
 * https://doc.traefik.io/traefik/observability/access-logs/#format ("common"). The timestamp is
 * the request's start. What it can tell is what the JSON log can, less: no retries, no request
 * id; the router and server URL are "-" when there was none. Its fixture is fixtures/traefik.log
 * written again in this format (fixtures/build-doc-fixtures.ts), not recorded.
 */
export const traefikClfReader: LogReader = {
  format: 'traefik-clf',
  title: 'Traefik access log (common format)',
  sniff: (line) => CLF.test(line),
  read(line): LogRecord | undefined {
    const m = CLF.exec(line);
    if (!m) return undefined;
    const start = parseCommonLogTime(m[2]);
    if (start === undefined) return undefined;
    const status = Number(m[4]);
    const router = m[5] === '-' || m[5] === '' ? undefined : m[5];
    const target = m[6] === '-' || m[6] === '' ? undefined : urlHost(m[6]);
    const durationMs = Number(m[7]);
    return {
      kind: 'request',
      time: start + durationMs,
      status,
      upstream: router,
      target,
      ...traefikOwn(status, router, target),
      joinKey: `${m[1]} ${m[3]}`,
      clientAborted: status === 499 || undefined,
    };
  },
  causesIn: 'traefik-debug',
  blindSpot:
    "Traefik's common log format writes its own 502/504 (upstream refused, timed out, reset) as an upstream's own 5xx, and names no service, no retries and no request id: its 5xx from a server that was picked have no cause here. Its JSON format (accessLog.format: json) says more; its DEBUG log names the causes.",
};

/** ServiceURL is logged as a string, or as Go's url.URL object ({"Scheme":…,"Host":…}). */
function urlHost(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(value);
    return m ? m[1] : nonEmpty(value);
  }
  return nonEmpty(objectAt(value)?.Host);
}
