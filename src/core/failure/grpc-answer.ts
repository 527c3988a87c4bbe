/**
 * A gateway-made failure told to a gRPC client: the Trailers-Only answer of gRPC over HTTP/2
 * (grpc/doc/PROTOCOL-HTTP2.md), one HEADERS frame that ends the stream. A gRPC client reads
 * neither the HTTP status nor a body: `:status` is 200 and the failure lives in `grpc-status`
 * and `grpc-message`, with the same `Proxy-Status`, request id and retry hint an HTTP client
 * gets. Pure: the downstream HTTP/2 session writes what this returns.
 */
import type { Failure } from './failure.ts';
import { GRPC_CODES, type GrpcCode } from './grpc-codes.ts';
import { failureProxyStatus, proxyStatusType } from './proxy-status.ts';

export interface GrpcAnswerFacts {
  readonly proxyName: string;
  readonly requestId: string;
  /** The upstream as clients may see it (name, or address when exposed); absent before routing. */
  readonly nextHop: string | undefined;
  /** errors.detail: minimal — no details or next hop in grpc-message and Proxy-Status. */
  readonly minimal?: boolean;
}

export interface GrpcAnswer {
  /** Always 200: gRPC carries its status in grpc-status, and a client treats any other as a transport error. */
  readonly status: 200;
  /** Flat [name, value, …], lower-case names, for a HEADERS frame with END_STREAM. */
  readonly headers: string[];
}

/**
 * Whether a request speaks gRPC: `application/grpc`, alone or with a `+format` or parameters.
 * gRPC-Web (`application/grpc-web…`) is not: it carries its status in the body, over HTTP/1.1 too.
 */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType
    .replace(/^[ \t]+/, '')
    .slice(0, 17)
    .toLowerCase();
  if (!type.startsWith('application/grpc')) return false;
  const next = type[16];
  return next === undefined || next === '+' || next === ';' || next === ' ';
}

/**
 * Records the gRPC status the gateway itself told a gRPC client: the Trailers-Only form of its
 * own answer (the session's), or the trailers or reset that end a stream it cut (the exchange's,
 * grpc-cut.ts). The one writer of the record's field, whoever decides the code.
 */
export function toldGrpcStatus(record: { gatewayGrpcStatus: number | undefined }, code: number): void {
  record.gatewayGrpcStatus = code;
}

/** A request's refusals for being larger than the gateway takes: its body (413), its path (414), its fields (431). */
const OVER_LIMITS: ReadonlySet<number> = new Set([413, 414, 431]);

/** The gRPC status for this failure: the taxonomy's, refined where the record's status says more. */
export function grpcStatusOf(failure: Failure): GrpcCode {
  // A request body over the route's limit, and metadata or a path over the gateway's (431, 414),
  // are what gRPC's own servers answer RESOURCE_EXHAUSTED for: more than the receiver accepts.
  if (failure.type === 'http_request_error' && OVER_LIMITS.has(failure.status))
    return GRPC_CODES.RESOURCE_EXHAUSTED;
  // A request body too slow for its deadline (408) is a timeout, as every other one.
  if (failure.type === 'http_request_error' && failure.status === 408) return GRPC_CODES.DEADLINE_EXCEEDED;
  // A method the route does not serve (a static route's 405) or no server implements (501): the
  // call's method is not there, gRPC's UNIMPLEMENTED (its own servers' answer for an unknown
  // method, and its mapping of a 404), not INTERNAL, which reads as the service's own fault.
  if (failure.type === 'http_request_error' && (failure.status === 405 || failure.status === 501))
    return GRPC_CODES.UNIMPLEMENTED;
  // An access refusal is no quota: gRPC's own codes for "who are you" and "not you".
  if (failure.type === 'http_request_denied' && failure.status === 401) return GRPC_CODES.UNAUTHENTICATED;
  if (failure.type === 'http_request_denied' && failure.status === 403) return GRPC_CODES.PERMISSION_DENIED;
  return failure.kind.grpc;
}

/**
 * The gRPC status a client reads from an answer whose `:status` is not 200 and that carries no
 * `grpc-status` of its own (an upstream that is no gRPC server: a load balancer's 503, a web
 * server's 404), as gRPC maps it (grpc/doc/http-grpc-status-mapping.md). Undefined for a 200,
 * whose status comes in its trailers, and for 1xx.
 */
export function grpcStatusOfHttp(status: number): number | undefined {
  if (status < 200 || status === 200) return undefined;
  switch (status) {
    case 400:
      return GRPC_CODES.INTERNAL;
    case 401:
      return GRPC_CODES.UNAUTHENTICATED;
    case 403:
      return GRPC_CODES.PERMISSION_DENIED;
    case 404:
      return GRPC_CODES.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_CODES.UNAVAILABLE;
    default:
      return GRPC_CODES.UNKNOWN;
  }
}

/**
 * grpc-message's Percent-Encoded form (PROTOCOL-HTTP2.md): the UTF-8 bytes, each outside
 * %x20-%x7E, and `%` itself, written as `%XX` (upper-case hex).
 */
export function percentEncodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The reverse, as a gRPC client reads it (for tests and diagnose). Invalid escapes stay as sent. */
export function percentDecodeGrpcMessage(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '%' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The grpc-message text: the RFC 9209 type first, as Proxy-Status names it (what a client
 * branches on: DESIGN.md), then a type of Candor's own that is a case of it (`client_deadline`,
 * the client's own grpc-timeout, is an `http_response_timeout`), the details, the id to quote.
 */
function grpcMessage(failure: Failure, requestId: string, minimal: boolean): string {
  const registered = proxyStatusType(failure.type) ?? failure.type;
  const own = registered === failure.type ? '' : ` (${failure.type})`;
  const details = failure.details && !minimal ? `: ${failure.details}` : '';
  return `${registered}${own}${details} (request id ${requestId})`;
}

/** `grpc-status` and `grpc-message` for a failure: a Trailers-Only answer's, or the trailers that end a response cut after its head. */
export function grpcStatusFields(failure: Failure, requestId: string, minimal: boolean): string[] {
  return [
    'grpc-status',
    String(grpcStatusOf(failure)),
    'grpc-message',
    percentEncodeGrpcMessage(grpcMessage(failure, requestId, minimal)),
  ];
}

/**
 * The trailers that end a gRPC answer the gateway cut after its head (grpc-cut.ts): its status,
 * and the Proxy-Status every gateway-made failure carries (RFC 9209 §2 names trailers as a place
 * for it, after a head that could not say it). Never added to an upstream's own trailers.
 */
export function grpcCutTrailers(failure: Failure, facts: GrpcAnswerFacts): string[] {
  const minimal = facts.minimal === true;
  return [
    ...grpcStatusFields(failure, facts.requestId, minimal),
    'proxy-status',
    failureProxyStatus(facts.proxyName, failure, facts.nextHop, minimal),
  ];
}

/** The Trailers-Only answer for a failure the gateway made. */
export function buildGrpcAnswer(failure: Failure, facts: GrpcAnswerFacts): GrpcAnswer {
  const headers = [
    'content-type',
    'application/grpc',
    ...grpcStatusFields(failure, facts.requestId, facts.minimal === true),
    'proxy-status',
    failureProxyStatus(facts.proxyName, failure, facts.nextHop, facts.minimal),
    'cache-control',
    'no-store',
    'x-request-id',
    facts.requestId,
  ];
  if (failure.retryAfter !== undefined) {
    // Retry-After for whoever reads HTTP; gRPC's own pushback for a client's retry policy
    // (gRFC A6: a server's wait, in milliseconds, before the next attempt).
    headers.push('retry-after', String(failure.retryAfter));
    headers.push('grpc-retry-pushback-ms', String(failure.retryAfter * 1000));
  }
  // A 401's challenge, as its HTTP answer carries it (RFC 9110 §15.5.2): read by whoever reads HTTP.
  if (failure.challenge !== undefined) headers.push('www-authenticate', failure.challenge);
  return { status: 200, headers };
}

/**
 * The HTTP status an upstream's own gRPC status stands for where it is the server's failure, as
 * gRPC's HTTP mappings give it (grpc-gateway's, the inverse of http-grpc-status-mapping.md):
 * UNKNOWN, INTERNAL and DATA_LOSS 500, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED
 * 504. Undefined for OK and for the codes that say the call was wrong (INVALID_ARGUMENT,
 * NOT_FOUND, PERMISSION_DENIED…, a 4xx), or refused for load (RESOURCE_EXHAUSTED, a 429). A
 * canary's judge reads a failed gRPC call by it: every call answered `:status` 200.
 */
export function serverErrorOfGrpc(code: number | undefined): number | undefined {
  switch (code) {
    case GRPC_CODES.UNKNOWN:
    case GRPC_CODES.INTERNAL:
    case 15: // DATA_LOSS
      return 500;
    case GRPC_CODES.UNIMPLEMENTED:
      return 501;
    case GRPC_CODES.UNAVAILABLE:
      return 503;
    case GRPC_CODES.DEADLINE_EXCEEDED:
      return 504;
    default:
      return undefined;
  }
}
