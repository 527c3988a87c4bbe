/**
 * The request as every attempt of one createFetch call sends it: its method, headers and body
 * source read once from fetch's arguments, and what the retry rules and redirects need of it.
 */
import { callHeaders } from './call-headers.ts';
import type { ClientConfig } from './options.ts';
import type { Redirectable } from './redirects.ts';
import { bodySource, type ReplayableBody } from './replayable-body.ts';
import type { RequestFacts } from './retry-rules.ts';
import { shownUrl } from './shown-url.ts';

/** fetch's init, whose body may also be a function that makes a fresh body for each attempt. */
export interface ClientRequestInit extends Omit<RequestInit, 'body'> {
  body?: RequestInit['body'] | ReplayableBody;
}

/** The request as every attempt of one call sends it. */
export interface CallRequest {
  readonly input: string | URL | Request;
  readonly init: ClientRequestInit;
  readonly method: string;
  readonly headers: Headers;
  readonly body: ReturnType<typeof bodySource>;
  /** What the retry rules read of it. */
  readonly facts: RequestFacts;
  /** The URL as shown in errors and reports (no credentials). */
  readonly href: string;
  readonly callerSignal: AbortSignal | null | undefined;
  /** Redirects fetch would follow are followed hop by hop. */
  readonly follow: boolean;
  readonly redirectable: Redirectable;
}

export function readCallRequest(
  config: ClientConfig,
  url: URL,
  input: string | URL | Request,
  init: ClientRequestInit,
): CallRequest {
  const method = normalizeMethod(init.method ?? (input instanceof Request ? input.method : 'GET'));
  const headers = callHeaders(config, input, init, method);
  const body = bodySource(init.body);
  const facts = { method, idempotencyKey: headers.has('idempotency-key'), replayable: body.replayable };
  const href = shownUrl(url);
  const callerSignal = init.signal ?? (input instanceof Request ? input.signal : undefined);
  // Redirects fetch would follow are followed here, hop by hop, to know that one was answered.
  const follow = (init.redirect ?? (input instanceof Request ? input.redirect : 'follow')) === 'follow';
  const redirectable: Redirectable = {
    method,
    headers,
    hasBody:
      init.body != null || (init.body === undefined && input instanceof Request && input.body !== null),
    replayable: body.replayable,
    body: () => (init.body != null ? body.take() : input instanceof Request ? input.clone().body : null),
  };
  return { input, init, method, headers, body, facts, href, callerSignal, follow, redirectable };
}

/** The Fetch standard's method normalization: these six are upper-cased, any other is sent as written. */
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED.has(upper) ? upper : method;
}
