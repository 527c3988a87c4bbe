/**
 * The request id and trace context of a request, as `candor/client` passes them on: the
 * gateway's `x-request-id` and the W3C `traceparent` / `tracestate`. A value that could not be
 * passed on as it came (malformed, or several joined by Node) is left out rather than mended:
 * an id or a trace the caller never sent would join the wrong story.
 */
import type { IncomingMessage } from 'node:http';
import { isSafeRequestId } from '../../core/ids/ids.ts';
import { isValidTraceparent } from '../../core/ids/traceparent.ts';
import type { Propagation } from '../client/propagation.ts';

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function propagationFromRequest(req: IncomingMessage): Propagation {
  const id = single(req.headers['x-request-id']);
  const traceparent = single(req.headers.traceparent);
  const tracestate = single(req.headers.tracestate);
  const continued = traceparent !== undefined && isValidTraceparent(traceparent);
  return {
    ...(id !== undefined && isSafeRequestId(id) ? { requestId: id } : {}),
    ...(continued ? { traceparent } : {}),
    // tracestate means nothing without the traceparent it goes with (W3C Trace Context §3.3).
    ...(continued && tracestate !== undefined ? { tracestate } : {}),
  };
}
