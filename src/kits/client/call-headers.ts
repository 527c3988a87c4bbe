/**
 * The headers every attempt of a call carries: the caller's own (init's, else a Request's),
 * the request id and trace context of the request being served, and an Idempotency-Key when
 * the client adds one.
 */
import { randomUUID } from 'node:crypto';
import { IDEMPOTENT_METHODS } from '../../core/retry/idempotent.ts';
import type { ClientConfig } from './options.ts';
import { currentPropagation } from './propagation.ts';

/** The headers of one call: the caller's, then propagation and the idempotency key where missing. */
export function callHeaders(
  config: ClientConfig,
  input: string | URL | Request,
  /** Only init's headers are read here (the rest of ClientRequestInit is create-fetch's). */
  init: Pick<RequestInit, 'headers'>,
  method: string,
): Headers {
  // As fetch does: init's headers, when given, replace the Request's rather than add to them.
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  const propagation = currentPropagation();
  if (propagation?.requestId && !headers.has('x-request-id'))
    headers.set('x-request-id', propagation.requestId);
  if (propagation?.traceparent && !headers.has('traceparent')) {
    headers.set('traceparent', propagation.traceparent);
    if (propagation.tracestate && !headers.has('tracestate'))
      headers.set('tracestate', propagation.tracestate);
  }
  if (config.idempotencyKey && !IDEMPOTENT_METHODS.has(method) && !headers.has('idempotency-key'))
    headers.set('idempotency-key', randomUUID());
  return headers;
}
