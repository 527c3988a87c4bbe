import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasRequestBody } from '../accept/request-checks.ts';
import { type InFlightLimit, releaseOnClose } from '../admit/in-flight-limit.ts';
import { writeErrorResponse } from '../decide/error-response.ts';
import { Failure } from '../failure/failure.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { logRequest } from '../log/access-log.ts';
import type { RequestRecord } from '../log/request-record.ts';
import { admit, createRecord, nextHopOf } from './admit.ts';
import { Attempts } from './attempts.ts';

export interface ListenerFacts {
  /** "http" or "https". */
  readonly protocol: string;
  /** The listener's load-shedding count (`max_in_flight`), when it has one. */
  readonly inFlight?: InFlightLimit;
}

/** Client errors after which the connection cannot be trusted to be in sync. */
const CLOSING_STATUSES = new Set([400, 408, 413, 505]);

/**
 * One request through the phases: accept checks → route → select (admit.ts) → forward
 * (Exchange) → decide (here: pass through, or an error response) → log. The log line is
 * written exactly once, when the downstream response closes.
 */
export function handleRequest(
  runtime: Runtime,
  listener: ListenerFacts,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const record = createRecord(req);
  res.once('close', () => {
    if (!res.writableFinished && record.status === 0) {
      record.clientAborted = true;
      record.status = 499;
    }
    logRequest(runtime.logger, record);
  });
  const answer = (failure: Failure) => answerWithFailure(runtime, req, res, record, failure);
  try {
    forward(runtime, listener, req, res, record, answer);
  } catch (err) {
    // A bug must cost one request a 500, never the process.
    answer(new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }));
  }
}

function forward(
  runtime: Runtime,
  listener: ListenerFacts,
  req: IncomingMessage,
  res: ServerResponse,
  record: RequestRecord,
  answer: (failure: Failure) => void,
): void {
  const admitted = admit(runtime, req, record, listener.inFlight);
  if (admitted instanceof Failure) return answer(admitted);
  releaseOnClose(res, admitted.release);
  new Attempts({ runtime, protocol: listener.protocol, req, res, record, admitted, answer }).start();
}

/** The decide phase for a failure before anything went downstream. */
function answerWithFailure(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
  record: RequestRecord,
  failure: Failure,
): void {
  record.failure = failure;
  if (record.clientAborted) return;
  record.status = failure.status;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  writeErrorResponse(req, res, failure, {
    proxyName: runtime.name,
    requestId: record.id,
    accept: req.headers.accept,
    nextHop: failure.kind.shape === 'client' ? undefined : nextHopOf(runtime, record),
    head: req.method === 'HEAD',
    // An unread body is not worth reading, and a broken request leaves the stream in doubt.
    close: (hasRequestBody(req) && !req.complete) || CLOSING_STATUSES.has(failure.status),
  });
}
