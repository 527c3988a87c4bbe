/**
 * The request the probe writes: the client's fields, plus, when probing as the gateway,
 * exactly the fields the gateway adds on its way upstream (built by the gateway's own code).
 */
import { buildUpstreamHeaders } from '../forward/request-headers.ts';
import { randomHex } from '../trace/ids.ts';
import { continueOrStartTrace } from '../trace/traceparent.ts';
import type { ProbePlan } from './plan.ts';

/** Methods undici sends an empty body with an explicit length for. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export interface BuiltRequest {
  readonly bytes: Buffer;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly requestId: string | undefined;
}

/** `clientAddress`: this machine's address on the connection, which the gateway would put in X-Forwarded-For. */
export function buildRequest(plan: ProbePlan, clientAddress: string): BuiltRequest {
  const raw = plan.clientHeaders.flat();
  let flat = raw;
  let requestId: string | undefined;
  if (plan.asGateway) {
    requestId = `diagnose-${randomHex(8)}`;
    flat = buildUpstreamHeaders(raw, {
      clientAddress,
      trusted: false,
      protocol: 'http',
      host: plan.host,
      requestId,
      traceparent: continueOrStartTrace(undefined).traceparent,
      keepTracestate: false,
      via: `1.1 ${plan.asGateway.name}`,
    });
  }
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) headers.push([flat[i], flat[i + 1]]);
  // undici announces keep-alive on every request; a request without a body says nothing more.
  headers.push(['connection', 'keep-alive']);
  if (BODY_METHODS.has(plan.method)) headers.push(['content-length', '0']);
  const head = `${plan.method} ${plan.path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return { bytes: Buffer.from(head, 'latin1'), headers, requestId };
}
