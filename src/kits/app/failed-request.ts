/**
 * A request listener that threw, or an async one whose promise rejected: the app's bug, for that
 * request alone. Left to Node, a rejection is unhandled and ends the process (and a throw is an
 * uncaught exception): every request in flight would be cut, and the gateway would answer a 502
 * for each. The request gets the 500 of a broken app when its head has not left; once it has,
 * the response is cut, never finished as if whole. One log line says which request and why.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_PAGE_POLICY } from '../../core/failure/error-body.ts';
import { escapeHtml } from '../../core/failure/error-page.ts';
import { negotiateErrorFormat } from '../../core/failure/negotiate.ts';
import { newRequestId } from '../../core/ids/ids.ts';
import { messageOf } from './error-message.ts';
import { dropRepresentationHeaders, errorAnswerHeaders } from './failure-answer.ts';
import type { AppEvent } from './options.ts';
import { propagationFromRequest } from './propagation-from-request.ts';

const TITLE = 'Internal Server Error';
const DETAIL = 'The server failed while handling this request.';

/**
 * The 500's body, negotiated by Accept as answerFailure's and the gateway's are (problem+json,
 * a page, text): it was plain text whatever the caller read. The app's own bug is no failure of
 * the failure table (it is the origin's 500, passed through by a gateway as it is): RFC 9457's
 * `about:blank` with the status's own title, and the request id to quote. Never the error's
 * message nor a stack: they are for the log line.
 */
function bugBody(accept: string | undefined, requestId: string) {
  const format = negotiateErrorFormat(accept);
  if (format === 'problem+json') {
    const problem = { type: 'about:blank', title: TITLE, status: 500, detail: DETAIL, request_id: requestId };
    return { contentType: 'application/problem+json', body: `${JSON.stringify(problem)}\n` };
  }
  if (format === 'html')
    return {
      contentType: 'text/html; charset=utf-8',
      policy: ERROR_PAGE_POLICY,
      body: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>500 ${TITLE}</title></head>
<body><main><h1>500 ${TITLE}</h1><p>${DETAIL}</p>
<p>Request id: <code>${escapeHtml(requestId)}</code> (quote it when you report this).</p></main></body></html>
`,
    };
  return {
    contentType: 'text/plain; charset=utf-8',
    body: `500 ${TITLE}\n\n${DETAIL}\nrequest id: ${requestId}\n`,
  };
}

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
  // A caller that sent none (no gateway in front) gets one made for it, the same in its answer
  // and on the line, so that the id it quotes finds the line (as answerFailure's).
  const answering = !res.writableEnded && !res.headersSent && !res.destroyed;
  const requestId = propagationFromRequest(req).requestId ?? (answering ? newRequestId() : undefined);
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
  const accept = typeof req.headers.accept === 'string' ? req.headers.accept : undefined;
  // A response still to be answered got an id above, made when none came.
  const id = requestId as string;
  const answer = bugBody(accept, id);
  res.writeHead(500, errorAnswerHeaders(answer, id));
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}
