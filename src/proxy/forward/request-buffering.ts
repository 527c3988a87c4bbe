import type { Readable } from 'node:stream';
import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { BufferBudget } from '../../core/net/buffer-budget.ts';
import { BodyRate, type BodyRateLimits } from './body-rate.ts';

/**
 * Request buffering (nginx's `proxy_request_buffering`): a small body is read whole before an
 * upstream connection is taken, so a client that uploads slowly (or drips a byte every few
 * seconds on purpose) holds only its own connection, never one of the pool's. A body read whole
 * can also be sent again on a retry.
 */

export interface BodyReadLimits extends BodyRateLimits {
  /** Read whole up to this many bytes; past it the body streams. */
  readonly buffer: number;
  /** The route's body limit (`routes[].limits.body`): a body of unannounced length that crosses it is a 413. */
  readonly body: number;
}

/**
 * How the read ended: the whole body in hand; or longer than the buffer, with what was read
 * put back at the front of the request stream (the next reader gets it first, then the rest);
 * or a failure (408 too slow, 413 too large, the client gone) to answer with.
 */
export type BodyRead = { readonly whole: Buffer } | { readonly over: true } | Failure;

/** Bytes held against a bound: a connection's BufferBudget, the process's ReaderMemory (`limits.buffer_total`). */
export interface MemoryBound {
  readonly room: number;
  add(bytes: number): void;
}

/**
 * How much of a body to read whole before the first attempt (0: stream it). Request buffering
 * reads up to the route's buffer, a body of unannounced length included (past the buffer it
 * streams); retry replay reads a body announced no longer than `replay_body`, so it can be sent
 * again. A body announced longer than both streams from the start: nothing to wait for.
 */
export function bufferWanted(
  route: { readonly requestBuffering: boolean; readonly limits: { readonly buffer: number } },
  retries: { readonly attempts: number; readonly replayBody: number },
  /** The announced length; NaN when the body is chunked. */
  length: number,
): number {
  const buffer = route.requestBuffering ? route.limits.buffer : 0;
  const replay = retries.attempts > 1 && length <= retries.replayBody ? retries.replayBody : 0;
  const wanted = Math.max(buffer, replay);
  return length > wanted ? 0 : wanted;
}

/**
 * Reads the request body, up to `limits.buffer` bytes, and reports once through `done`.
 * The deadline is Apache mod_reqtimeout's (body-rate.ts). Silence longer than `limits.body_idle_timeout` is the accept side's to judge:
 * the body errors with its 408, which ends the read as any broken body does. Returns a cancel
 * (the client left): `done` is then never called.
 *
 * With a `budget` (the client connection's, shared by its HTTP/2 streams) what is read counts
 * against it too: a body that would take the connection past it streams, as a longer one
 * does. `total` (the process's, `limits.buffer_total`) the same way: a hundred uploads at once,
 * each held until its exchange ends, would otherwise hold max_connections × the buffer together.
 * A body read whole stays counted (the caller gives it back when the exchange is over); any other
 * outcome gives back what it took.
 */
export function readBodyWhole(
  req: Readable,
  /** The body's length was not announced (chunked): the route's body limit is checked here. */
  unannounced: boolean,
  limits: BodyReadLimits,
  done: (read: BodyRead) => void,
  budget?: BufferBudget,
  total?: MemoryBound,
): () => void {
  const chunks: Buffer[] = [];
  let received = 0;
  /** Bytes counted against the budget and neither given back nor handed to the caller. */
  let charged = 0;
  const giveBack = () => {
    budget?.add(-charged);
    total?.add(-charged);
    charged = 0;
  };
  const finish = (read: BodyRead) => {
    stop();
    // A body read whole is the caller's to give back, when its exchange is over.
    if ('whole' in read) charged = 0;
    else giveBack();
    done(read);
  };
  const rate = new BodyRate(limits, finish);
  const cap = Math.min(limits.buffer, limits.body);
  const onReadable = () => {
    for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) {
      received += chunk.length;
      rate.received(chunk.length);
      chunks.push(chunk);
      if (budget !== undefined || total !== undefined) {
        budget?.add(chunk.length);
        total?.add(chunk.length);
        charged += chunk.length;
      }
      if (
        received <= cap &&
        (budget === undefined || budget.room >= 0) &&
        (total === undefined || total.room >= 0)
      )
        continue;
      if (unannounced && received > limits.body)
        return finish(
          new Failure(
            'http_request_error',
            `request body larger than the route's limit of ${limits.body} bytes`,
            {
              status: 413,
            },
          ),
        );
      stop();
      giveBack();
      // Back at the front of the stream, as one piece: the exchange streams it first, then the rest.
      req.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
      return done({ over: true });
    }
  };
  const onEnd = () => finish({ whole: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received) });
  const onError = (err: NodeJS.ErrnoException) => finish(classifyRequestBodyError(err, 'not_sent'));
  const stop = () => {
    rate.stop();
    req.off('readable', onReadable);
    req.off('end', onEnd);
    req.off('error', onError);
  };
  // Paused mode: with its last 'readable' listener gone the stream is neither flowing nor
  // paused, so the exchange's 'data' listener starts it again when the body goes on streaming.
  req.on('readable', onReadable);
  req.once('end', onEnd);
  req.once('error', onError);
  return () => {
    stop();
    giveBack();
  };
}
