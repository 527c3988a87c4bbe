/**
 * The spans of a call the gateway makes for a request on its own account: a forward-auth
 * service's GET, a plugin's `context.fetch`, an OpenID provider's token endpoint. Each attempt
 * of such a call is a CLIENT span, a child of the request's server span as the upstream's
 * attempts are, with `candor.hop` naming the hop: the auth service's 800 ms show as its own
 * span, not as a gap, and its failure as its own, not as the upstream's. Like spans.ts, every
 * function takes `undefined` when tracing is off and returns at once, and no OpenTelemetry
 * code is loaded here.
 */
import type { Span } from '@opentelemetry/api';
import type { Failure } from '../../core/failure/failure.ts';
import {
  ATTR_CANDOR_HOP,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  KNOWN_METHODS,
  SPAN_KIND_CLIENT,
} from './conventions.ts';
import { answered, failed, now, RequestSpans, traceparentOf } from './spans.ts';

/** The conventions' name of a method (`_OTHER` for one they do not list). */
function conventionalMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

/**
 * The spans of a call through an upstream by the one attempt loop (session/auth-call.ts): each
 * attempt's client span is started and settled there, as a client's request's are, under
 * `request`'s server span; `hop` names the call's hop. Undefined without a traced request.
 */
export function callSpansOf(
  request: RequestSpans | undefined,
  method: string,
  hop: string,
): RequestSpans | undefined {
  if (request === undefined) return undefined;
  return new RequestSpans(request.tracing, request.server, conventionalMethod(method), request.random, hop);
}

/**
 * The call is over (its answer's body whole, or cut): the last attempt's span, left open while
 * its body came (settleClientSpan), ends, a failure of that body its error.
 */
export function endCallSpans(spans: RequestSpans | undefined, failure: Failure | undefined): void {
  const client = spans?.client;
  if (spans === undefined || client === undefined) return;
  if (failure !== undefined) failed(client, failure);
  client.end(now());
  spans.client = undefined;
}

/** One fetch-made call's span (an OpenID provider's), and the traceparent that call sends. */
export interface FetchSpan {
  readonly span: Span;
  readonly traceparent: string;
}

/**
 * The call's fields with its trace context: the span's traceparent (the provider's spans hang
 * under it) and the client's tracestate, which the span carries for a continued trace.
 */
export function tracedFields(call: FetchSpan, fields: RequestInit['headers']): Headers {
  const out = new Headers(fields);
  out.set('traceparent', call.traceparent);
  const state = call.span.spanContext().traceState?.serialize();
  if (state !== undefined && state !== '') out.set('tracestate', state);
  return out;
}

/**
 * A span for a call made by fetch (callAuthHop: no attempt loop, one attempt), started now
 * under `request`'s server span. Its `url.full` is the URL without its query, as an attempt's
 * (spans.ts: queries carry tokens, and traces travel further than logs).
 */
export function startFetchSpan(
  request: RequestSpans | undefined,
  method: string,
  url: URL,
  hop: string,
): FetchSpan | undefined {
  if (request === undefined) return undefined;
  const known = conventionalMethod(method);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const span = request.tracing.tracer.startSpan(
    known === '_OTHER' ? 'HTTP' : known,
    {
      kind: SPAN_KIND_CLIENT,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: known,
        [ATTR_SERVER_ADDRESS]: url.hostname.replace(/^\[|\]$/g, ''),
        [ATTR_SERVER_PORT]: port,
        [ATTR_URL_FULL]: `${url.origin}${url.pathname}`,
        [ATTR_CANDOR_HOP]: hop,
      },
      startTime: now(),
    },
    request.context,
  );
  return { span, traceparent: traceparentOf(span, request) };
}

/**
 * The fetch-made call is over: answered with `status` (a 4xx or 5xx is an error for a client,
 * as an attempt's), or failed as the gateway judged it (its Proxy-Status type).
 */
export function endFetchSpan(call: FetchSpan | undefined, outcome: Failure | number): void {
  if (call === undefined) return;
  const { span } = call;
  if (typeof outcome === 'number') answered(span, outcome);
  else failed(span, outcome);
  span.end(now());
}
