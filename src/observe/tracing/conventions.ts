/**
 * The names and numbers the spans are written with (spans.ts): the OpenTelemetry semantic
 * conventions' attribute names, methods and gRPC error codes, the API's enum values, and
 * Candor's own attributes. Written out, not imported, so that a gateway with tracing off
 * loads no OpenTelemetry code; the API's numbers are checked against its own types (a wrong
 * number does not compile).
 */
import type { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';

/** The OpenTelemetry HTTP semantic conventions' attribute names used here (stable since v1.23). */
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_NETWORK_PEER_ADDRESS = 'network.peer.address';
export const ATTR_NETWORK_PEER_PORT = 'network.peer.port';
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
/** The gRPC conventions' (the name Jaeger's and Tempo's users search by; the newer `rpc.status_code` is still experimental). */
export const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_SCHEME = 'url.scheme';
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';

/** The API's enum values used here, typed by its declarations (a wrong number does not compile). */
export const SPAN_KIND_SERVER: SpanKind.SERVER = 1;
export const SPAN_KIND_CLIENT: SpanKind.CLIENT = 2;
export const STATUS_ERROR: SpanStatusCode.ERROR = 2;
export const TRACE_FLAGS_NONE: TraceFlags.NONE = 0;
export const TRACE_FLAGS_SAMPLED: TraceFlags.SAMPLED = 1;

/** Candor's own attributes, beside the conventions' (the access log's names, under `candor.`). */
export const ATTR_CANDOR_REQUEST_ID = 'candor.request_id';
export const ATTR_CANDOR_BACKGROUND = 'candor.background';
export const ATTR_CANDOR_FOR_REQUEST_ID = 'candor.for_request_id';
export const ATTR_CANDOR_ROUTE = 'candor.route';
export const ATTR_CANDOR_UPSTREAM = 'candor.upstream';
export const ATTR_CANDOR_STAGE = 'candor.stage';
/** The hop a call of the gateway's own went to, as Proxy-Status's next-hop names it (`auth:NAME`, an OpenID provider's `auth:HOST`; a plugin's fetch, `plugin:NAME`). */
export const ATTR_CANDOR_HOP = 'candor.hop';

/** RFC 9110's methods plus PATCH: the conventions' list; any other is `_OTHER`, its name kept aside. */
export const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * The gRPC codes that make a server span an error (the gRPC conventions): the server's fault.
 * The others (NOT_FOUND, PERMISSION_DENIED, …) are the caller's, as an HTTP 4xx is.
 */
export const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);
