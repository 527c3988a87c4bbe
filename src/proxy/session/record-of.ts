import type { RouteConfig } from '../../core/config/route-config.ts';
import { isGrpcContentType } from '../../core/failure/grpc-answer.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { newRequestId, requestIdsFor } from '../../core/ids/ids.ts';
import { continueOrStartTrace } from '../../core/ids/traceparent.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import { unmapIPv4 } from '../../core/net/ip-address.ts';
import { type TrustList, vouchedClient } from '../../core/net/trust.ts';
import { RequestRecord } from '../../observe/log/request-record.ts';
import type { Origin } from '../../observe/metrics/catalog.ts';
import {
  type RequestSpans,
  routeServerSpan,
  startServerSpan,
  type Tracing,
} from '../../observe/tracing/spans.ts';
import { loggedHost, loggedTarget, type RawRequestInfo, refusedTarget } from '../accept/client-error.ts';

/**
 * A request's record as it starts, from what the client sent: its ids (an X-Request-Id adopted
 * only from a trusted client), its trace context, its protocol, and whether it is gRPC.
 * `fields` as addressedFields made them (an absolute-form target's authority is their Host); a
 * target past `uriLength` (a 414's) kept as the parser's refusal keeps it (loggedTarget).
 */
export function recordOf(
  head: DownstreamHead,
  fields: FieldMap,
  trust: TrustList,
  uriLength: number,
): RequestRecord {
  const { 'x-request-id': idHeader, traceparent, host } = fields;
  const clientAddress = unmapIPv4(head.remoteAddress);
  // A request without an X-Request-Id (most) gets a new id: no trust list looked up for it.
  const ids = typeof idHeader === 'string' ? requestIdsFor(idHeader, trust.has(clientAddress)) : undefined;
  const record = new RequestRecord(
    ids === undefined ? newRequestId() : ids.id,
    continueOrStartTrace(typeof traceparent === 'string' ? traceparent : undefined),
    clientAddress,
    head.method,
    // The host the request is routed by (an absolute-form target's authority: addressedFields).
    typeof host === 'string' ? loggedHost(host) : '',
    loggedTarget(head.target, uriLength),
    head.startedAt,
  );
  record.clientRequestId = ids?.clientId;
  record.protocol = head.protocol;
  // gRPC needs HTTP/2: over HTTP/1.1 the same content-type is answered as any request.
  record.grpc = head.protocol === 'HTTP/2' && isGrpcContentType(fields['content-type'] as string);
  return record;
}

/** The request's server span, when tracing is on (its HTTP version and user agent from the head). */
export function serverSpanOf(
  { tracing, trust }: { readonly tracing: Tracing | undefined; readonly trust: TrustList },
  record: RequestRecord,
  head: DownstreamHead,
  fields: FieldMap,
  protocol: string,
): RequestSpans | undefined {
  if (tracing === undefined) return undefined;
  const { 'user-agent': agent, tracestate } = fields;
  const httpVersion = head.protocol === 'HTTP/2' ? '2' : `${head.versionMajor}.${head.versionMinor}`;
  return startServerSpan(
    tracing,
    record,
    {
      httpVersion,
      // Behind trusted proxies, the client they vouch for (the conventions' client.address); read only when traced.
      client: vouchedClient(record.clientAddress, fields, trust),
      userAgent: typeof agent === 'string' ? agent : undefined,
      // A repeated tracestate is one list, its lines joined in order (fieldMap).
      tracestate: typeof tracestate === 'string' ? tracestate : undefined,
    },
    protocol,
  );
}

/** The request found its route: its log line and its server span say which. */
export function routedAs(
  req: { readonly record: RequestRecord; readonly spans: RequestSpans | undefined },
  route: RouteConfig,
): void {
  req.record.route = route.name;
  routeServerSpan(req.spans, route.path);
}

/** The record of a request the server's parser refused, from the little it could read of it. */
export function refusedRecordOf(
  remoteAddress: string,
  info: RawRequestInfo,
  trust: TrustList,
  startedAt?: number,
): RequestRecord {
  const clientAddress = unmapIPv4(remoteAddress);
  const ids = requestIdsFor(info.requestId, trust.has(clientAddress));
  const record = new RequestRecord(
    ids.id,
    // The client's trace when its traceparent was valid, as a routed request's (recordOf).
    continueOrStartTrace(info.traceparent),
    clientAddress,
    info.method,
    loggedHost(info.host ?? ''),
    // The parser refused it: its target may be anything the head held (its 414 too).
    refusedTarget(info.path),
    startedAt,
  );
  record.clientRequestId = ids.clientId;
  record.protocol = info.protocol;
  return record;
}

/**
 * The server span of a request the server's parser refused, when tracing is on: its HTTP version
 * and user agent as far as its head named them, under the client's span when it sent a valid
 * traceparent. The client is the connection's peer: nothing a refused head says vouches for one.
 */
export function refusedSpanOf(
  tracing: Tracing | undefined,
  record: RequestRecord,
  info: RawRequestInfo,
  scheme: string,
): RequestSpans | undefined {
  if (tracing === undefined) return undefined;
  const { userAgent, tracestate } = info;
  // HTTP/1.0 or HTTP/1.1 as the log's `protocol` has it, or none when the request line did not say.
  const httpVersion = record.protocol?.slice('HTTP/'.length);
  return startServerSpan(
    tracing,
    record,
    { httpVersion, client: record.clientAddress, userAgent, tracestate },
    scheme,
  );
}

/**
 * Who made the answer the request ended with: the gateway when a route stage answered in the
 * upstream's place or failed on its answer; the upstream when its head went downstream (the last attempt has its status);
 * the client when it left before any answer; else the gateway. Read off the record, which already
 * says it: nothing is re-derived.
 */
export function originOf(record: RequestRecord): Origin {
  // A stage's answer in place of the upstream's (a stored answer: a hit, stale for its failure, or
  // one its 304 confirmed: the upstream sent no 200, and its 304 is no answer the client got).
  if (record.stageAnswered) return 'gateway';
  // A stage failed on the upstream's answer (a plugin's onResponse threw): its head never went
  // out, the gateway's error did, though the try lists the status the upstream sent.
  if (record.failure?.receivedStatus !== undefined) return 'gateway';
  const last = record.tries[record.tries.length - 1];
  if (last !== undefined && last.status !== undefined) return 'upstream';
  if (record.clientAborted && (record.status === FAILURES.client_closed.status || record.status === 0))
    return 'client';
  return 'gateway';
}
