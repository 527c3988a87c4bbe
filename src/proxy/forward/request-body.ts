import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RetryConfig } from '../../core/config/types.ts';
import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { AttemptBody } from './exchange.ts';

/** What decides how a request's body is sent. */
interface BodyPlan {
  /** The request carries a body (announced length above zero, or chunked). */
  readonly hasBody: boolean;
  /** The upstream's retry policy: a body small enough is read whole, so that a retry can send it again. */
  readonly retries: RetryConfig;
  /** How long the client's body may stall while it is read. */
  readonly idleTimeout: number;
}

/**
 * The forward step's first move: the body every attempt sends. None; the client's stream,
 * sent as it comes (no retry after it started); or, when retries are on and the announced
 * length is within `replay_body`, a copy read whole first. `ready` gets the body, `failed` the
 * client's failure (stalled, broken, gone) when reading it did not end.
 */
export function prepareBody(
  req: IncomingMessage,
  res: ServerResponse,
  plan: BodyPlan,
  ready: (body: AttemptBody) => void,
  failed: (failure: Failure) => void,
): void {
  if (!plan.hasBody) return ready({ kind: 'none' });
  // The client asked before sending its body: everything that could refuse it has now agreed.
  if (req.headers.expect !== undefined) res.writeContinue();
  const length = Number(req.headers['content-length']);
  const { retries } = plan;
  if (retries.attempts > 1 && Number.isFinite(length) && length <= retries.replayBody)
    return readWhole(req, plan.idleTimeout, ready, failed);
  ready({ kind: 'stream' });
}

/** Reads a small body whole, so that it can be sent again on a retry. */
function readWhole(
  req: IncomingMessage,
  idleTimeout: number,
  ready: (body: AttemptBody) => void,
  failed: (failure: Failure) => void,
): void {
  const chunks: Buffer[] = [];
  const idle = setTimeout(() => {
    cleanup();
    failed(new Failure('http_request_error', `request body stalled for ${idleTimeout} ms`, { status: 408 }));
  }, idleTimeout);
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    idle.refresh();
  };
  const onEnd = () => {
    cleanup();
    ready({ kind: 'buffer', bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
  };
  const onError = (err: NodeJS.ErrnoException) => {
    cleanup();
    failed(classifyRequestBodyError(err, 'not_sent'));
  };
  const cleanup = () => {
    clearTimeout(idle);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
  };
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', onError);
}
