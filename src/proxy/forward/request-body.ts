import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { AttemptBody } from './exchange-options.ts';
import { type BodyRead, type BodyReadLimits, type MemoryBound, readBodyWhole } from './request-buffering.ts';

/** What decides how a request's body is sent. */
interface BodyPlan {
  /** The request carries a body (announced length above zero, or chunked). */
  readonly hasBody: boolean;
  /**
   * How much of it to read whole before the first attempt (bufferWanted in
   * request-buffering.ts: request buffering, or a copy for a retry to send again); 0 streams it.
   */
  readonly buffer: number;
  /** The bounds of that read: the route's body limit, the idle timeout, the minimum rate. */
  readonly limits: Omit<BodyReadLimits, 'buffer'>;
  /** What the process holds, every connection together (`limits.buffer_total`): past it the body streams. */
  readonly total: MemoryBound;
}

/**
 * The forward step's first move: the body every attempt sends. None; the client's stream,
 * sent as it comes (no retry after it started); or, up to `plan.buffer`, the body read whole
 * first (a body longer than that streams after all, what was read first). `ready` gets the
 * body, `failed` the client's failure (too slow, too large, broken, gone) when reading it did
 * not end. Returns a cancel while a read is under way (the request ended first): neither
 * callback is then called.
 */
export function prepareBody(
  exchange: DownstreamExchange,
  plan: BodyPlan,
  ready: (body: AttemptBody) => void,
  failed: (failure: Failure) => void,
): (() => void) | undefined {
  if (!plan.hasBody || exchange.body === undefined) {
    ready({ kind: 'none' });
    return undefined;
  }
  const broken = askedForBody(exchange);
  if (broken !== undefined) {
    failed(broken);
    return undefined;
  }
  if (plan.buffer === 0) {
    ready({ kind: 'stream' });
    return undefined;
  }
  return readBuffered(
    exchange,
    { ...plan.limits, buffer: plan.buffer },
    (read) => {
      if (read instanceof Failure) return failed(read);
      ready('over' in read ? { kind: 'stream' } : { kind: 'buffer', bytes: read.whole });
    },
    plan.total,
  );
}

/**
 * The request's whole body at a route stage's ask (a plugin's `request.body()`), up to `limit`
 * bytes: its bytes, or the client's failure (413 past the bound, announced or not; 408 too slow;
 * broken or gone). A body longer than the bound is left where it was (what was read put back at
 * the front of the stream: the attempts may still send it as it comes). Returns a cancel while a
 * read is under way: `done` is then never called.
 */
export function readWholeForStage(
  exchange: DownstreamExchange,
  limit: number,
  /** The stage reading it, named in a 413's details. */
  reader: string,
  limits: Omit<BodyReadLimits, 'buffer'>,
  done: (read: Buffer | Failure) => void,
): (() => void) | undefined {
  const { head } = exchange;
  if (exchange.body === undefined || head.bodyLength === undefined || head.bodyLength === 0) {
    done(Buffer.alloc(0));
    return undefined;
  }
  // An announced length past the bound is refused before a byte is asked for.
  if (head.bodyLength !== 'chunked' && head.bodyLength > limit) {
    done(tooLarge(limit, reader));
    return undefined;
  }
  const broken = askedForBody(exchange);
  if (broken !== undefined) {
    done(broken);
    return undefined;
  }
  return readBuffered(exchange, { ...limits, buffer: limit }, (read) => {
    if (read instanceof Failure) return done(read);
    done('over' in read ? tooLarge(limit, reader) : read.whole);
  });
}

/**
 * The client is asked for its body (a `100 Continue` to one that waits for it: everything that
 * could refuse the request has agreed by now): undefined, or the failure of a body that broke
 * before now (bad framing, a stall, a client gone while an auth service or a shared rate limit
 * was asked), whose 'error' went to nobody and comes no more.
 */
function askedForBody(exchange: DownstreamExchange): Failure | undefined {
  const body = exchange.body;
  if (body?.errored != null)
    return classifyRequestBodyError(body.errored as NodeJS.ErrnoException, 'not_sent');
  if (exchange.head.expectContinue) exchange.answer.sendContinue();
  return undefined;
}

/**
 * readBodyWhole, with a body read whole held for the exchange's life (every attempt sends it):
 * counted against the connection's budget, and the process's `total` when given, until it is over.
 * A stage's read (readWholeForStage) has no `total`: past its own bound it is a 413, and a full
 * process is not the client's fault.
 */
function readBuffered(
  exchange: DownstreamExchange,
  limits: BodyReadLimits,
  done: (read: BodyRead) => void,
  total?: MemoryBound,
): () => void {
  const { budget } = exchange;
  return readBodyWhole(
    exchange.body as NonNullable<DownstreamExchange['body']>,
    exchange.head.bodyLength === 'chunked',
    limits,
    (read) => {
      if ((budget !== undefined || total !== undefined) && !(read instanceof Failure) && 'whole' in read) {
        const held = read.whole.length;
        exchange.answer.onClose(() => {
          budget?.add(-held);
          total?.add(-held);
        });
      }
      done(read);
    },
    budget,
    total,
  );
}

/** The body is longer than the stage reads: the client's 413, as a body past the route's limit is. */
export function tooLarge(limit: number, reader: string): Failure {
  return new Failure('http_request_error', `request body larger than the ${limit} bytes ${reader} reads`, {
    status: 413,
  });
}
