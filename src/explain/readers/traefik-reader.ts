import type { FailureType } from '../../failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord, Producer } from '../log-record.ts';
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
    let failure: FailureType | undefined;
    let producedBy: Producer | undefined;
    if (status === 503 && router !== undefined && target === undefined) {
      failure = 'destination_unavailable';
      producedBy = 'proxy';
    } else if (status === 404 && router === undefined) {
      failure = 'destination_not_found';
      producedBy = 'proxy';
    }
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

/** ServiceURL is logged as a string, or as Go's url.URL object ({"Scheme":…,"Host":…}). */
function urlHost(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(value);
    return m ? m[1] : nonEmpty(value);
  }
  return nonEmpty(objectAt(value)?.Host);
}
