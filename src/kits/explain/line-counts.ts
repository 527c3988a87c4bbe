/** The shapes of a tally's per-place, protocol and gRPC tables, and one request line's counts in them (tally.ts). */
import type { DurationHistogram } from './histogram.ts';
import type { RequestLine } from './log-record.ts';

/** Requests over one protocol (HTTP/1.1, HTTP/2), where the lines name it. */
export interface ProtocolTally {
  requests: number;
  errors5xx: number;
  failures: number;
}

/** Requests whose client read one gRPC status, by who set it. */
export interface GrpcTally {
  requests: number;
  byProxy: number;
  byUpstream: number;
}

export interface PlaceTally {
  requests: number;
  errors5xx: number;
  failures: number;
  first5xx: number;
  last5xx: number;
  readonly types: Map<string, number>;
}

export interface UpstreamTally extends PlaceTally {
  /** How long answered requests waited for their response head. */
  readonly answered: DurationHistogram;
  /** How long the requests that timed out waiting for a head waited. */
  readonly timedOut: DurationHistogram;
  /** Head timeouts whose wait the log does not record. */
  timeoutsUnmeasured: number;
  /**
   * Requests cut by the client's own deadline (gRPC's grpc-timeout, shorter than the proxy's),
   * with the shortest and longest deadline and where it cut them: not the proxy's timeout, kept apart.
   */
  readonly clientDeadlines: ClientDeadlines;
}

/** The client's own deadlines that cut an upstream's requests: how many, how long, and where (ClientDeadlineAt). */
export interface ClientDeadlines {
  count: number;
  minMs: number;
  maxMs: number;
  /** Before anything was sent (a connection opening, a full pool, a retry's backoff, a deadline of 0). */
  notSent: number;
  /** Waiting for the response head. */
  head: number;
  /** While the response body streamed. */
  body: number;
}

/** One request over a protocol its line names. */
export function countProtocol(
  byProtocol: Map<string, ProtocolTally>,
  protocol: string,
  is5xx: boolean,
  failed: boolean,
): void {
  let p = byProtocol.get(protocol);
  if (p === undefined) {
    p = { requests: 0, errors5xx: 0, failures: 0 };
    byProtocol.set(protocol, p);
  }
  p.requests++;
  if (is5xx) p.errors5xx++;
  if (failed) p.failures++;
}

/** One gRPC request by the status its client read, and who set it. */
export function countGrpc(
  byGrpcStatus: Map<number, GrpcTally>,
  grpc: NonNullable<RequestLine['grpc']>,
): void {
  let g = byGrpcStatus.get(grpc.status);
  if (g === undefined) {
    g = { requests: 0, byProxy: 0, byUpstream: 0 };
    byGrpcStatus.set(grpc.status, g);
  }
  g.requests++;
  if (grpc.producedBy === 'proxy') g.byProxy++;
  else g.byUpstream++;
}

/** How long the request waited for its head: cut by the client's deadline, timed out, or answered. */
export function countWait(upstream: UpstreamTally, line: RequestLine): void {
  const failure = line.failure;
  // A client's own deadline: logged as client_deadline, or client_deadline_connecting when
  // nothing was sent (before, as http_response_timeout).
  if (
    (failure === 'client_deadline' ||
      failure === 'client_deadline_connecting' ||
      failure === 'http_response_timeout') &&
    line.clientDeadlineMs !== undefined
  ) {
    const deadlines = upstream.clientDeadlines;
    deadlines.count++;
    deadlines[line.clientDeadlineAt ?? 'head']++;
    deadlines.minMs = Math.min(deadlines.minMs, line.clientDeadlineMs);
    deadlines.maxMs = Math.max(deadlines.maxMs, line.clientDeadlineMs);
  } else if (failure === 'http_response_timeout') {
    if (line.waitMs === undefined) upstream.timeoutsUnmeasured++;
    else upstream.timedOut.add(line.waitMs);
  } else if (
    failure === undefined &&
    line.staleCause === undefined &&
    line.status >= 100 &&
    !line.clientAborted &&
    line.waitMs !== undefined
  ) {
    upstream.answered.add(line.waitMs);
  }
}
