/**
 * The request the probe writes. As a plain client (the probe through the gateway, --compare):
 * the client's fields and the framing an HTTP/1.1 user agent owes (RFC 9110 §8.6: Content-Length
 * on a body-less POST/PUT/PATCH), nothing else. As the gateway (every direct probe): that same
 * request rewritten by the gateway's own header rewrite and written by its own head serializer,
 * so that the upstream sees the bytes the gateway would send.
 */

import { isCredentialName } from '../../core/credential-names.ts';
import { framingFields, serializeRequestHead } from '../../core/http1/request-head.ts';
import { randomHex } from '../../core/ids/ids.ts';
import { continueOrStartTrace } from '../../core/ids/traceparent.ts';
import { buildUpstreamHeaders } from '../../proxy/forward/request-headers.ts';
import type { ProbePlan } from './plan.ts';

interface BuiltRequest {
  readonly bytes: Buffer;
  /** The fields sent, flat (name, value, …): what an HTTP/2 probe sends. */
  readonly fields: readonly string[];
  /**
   * Every field of the head, in order, as the report shows them: a credential's value (`-H
   * 'Authorization: …'`, a cookie, an API key) written `***`, since a report is pasted into
   * tickets (the bytes sent carry it whole).
   */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly requestId: string | undefined;
}

const NO_BODY = { kind: 'none' } as const;

/** `clientAddress`: this machine's address on the connection, which the gateway would put in X-Forwarded-For. */
export function buildRequest(plan: ProbePlan, clientAddress: string): BuiltRequest {
  const client = plan.clientHeaders.flat();
  // The plain client's request, framing included: what the gateway would receive from it.
  let flat = [
    ...client,
    ...framingFields({ method: plan.method, path: plan.path, headers: client, body: NO_BODY }),
  ];
  let requestId: string | undefined;
  if (plan.asGateway) {
    requestId = `diagnose-${randomHex(8)}`;
    flat = buildUpstreamHeaders(flat, {
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
  // Host and the framing are in `flat` already, so the serializer adds no field: `headers` is the whole head.
  const head = serializeRequestHead(
    { method: plan.method, path: plan.path, headers: flat, body: NO_BODY },
    plan.host,
  );
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) headers.push([flat[i], shownValue(flat[i], flat[i + 1])]);
  return { bytes: Buffer.from(head, 'latin1'), fields: flat, headers, requestId };
}

/** A field's value as a report shows it: `***` for a credential's (an empty value stays empty). */
function shownValue(name: string, value: string): string {
  return value !== '' && isCredentialName(name) ? '***' : value;
}
