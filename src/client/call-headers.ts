/**
 * The headers every attempt of a call carries: the caller's own (a Request's, then init's),
 * the request id and trace context of the request being served, and an Idempotency-Key when
 * the client adds one.
 */
import { randomUUID } from 'node:crypto';
import { IDEMPOTENT_METHODS } from '../decide/retry-policy.ts';
import type { ClientRequestInit } from './create-fetch.ts';
import type { ClientConfig } from './options.ts';
import { currentPropagation } from './propagation.ts';

/** The headers of one call: the caller's, then propagation and the idempotency key where missing. */
export function callHeaders(
  config: ClientConfig,
  input: string | URL | Request,
  init: ClientRequestInit,
  method: string,
): Headers {
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init.headers).forEach((value, name) => {
    headers.set(name, value);
  });
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
