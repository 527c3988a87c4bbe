/**
 * A request listener that threw, or an async one whose promise rejected: the app's bug, for that
 * request alone. Left to Node, a rejection is unhandled and ends the process (and a throw is an
 * uncaught exception): every request in flight would be cut, and the gateway would answer a 502
 * for each. The request gets the 500 of a broken app when its head has not left; once it has,
 * the response is cut, never finished as if whole. One log line says which request and why.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageOf } from './error-message.ts';
import { dropRepresentationHeaders } from './failure-answer.ts';
import type { AppEvent } from './options.ts';
import { propagationFromRequest } from './propagation-from-request.ts';

const BODY = 'Internal Server Error\n';

/** Runs `listener`, answering its failure (a throw, a rejection) as the app's own bug. */
export function runListener(
  listener: (req: IncomingMessage, res: ServerResponse) => unknown,
  req: IncomingMessage,
  res: ServerResponse,
  log: (event: AppEvent) => void,
): void {
  const failed = (error: unknown) => answerBug(req, res, error, log);
  let returned: unknown;
  try {
    returned = listener(req, res);
  } catch (error) {
    return failed(error);
  }
  if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function')
    (returned as PromiseLike<unknown>).then(undefined, failed);
}

function answerBug(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  log: (event: AppEvent) => void,
) {
  const path = (req.url ?? '').split('?')[0];
  // The id the request came with (behind a gateway, the one its log line has): without it the
  // app's line and the gateway's 500 line for the same request could be matched by time alone.
  const requestId = propagationFromRequest(req).requestId;
  log({
    msg: 'request failed',
    method: req.method,
    path,
    ...(requestId === undefined ? {} : { request_id: requestId }),
    error: messageOf(error),
    // The client left before its request's body ended (the read's `aborted`): a fact beside
    // the error, so that the line is not taken for the app's bug alone.
    ...(req.readableAborted && !req.complete ? { client_aborted: true } : {}),
  });
  // A response already whole stays as it is (its connection may carry the next request).
  if (res.writableEnded) return;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  // Its headers for the answer it meant to send are not this one's (a 500 labelled gzip, saved as a file).
  dropRepresentationHeaders(res);
  res.writeHead(500, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(BODY),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : BODY);
}
