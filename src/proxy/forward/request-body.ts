import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { AttemptBody } from './exchange-options.ts';
import { type BodyReadLimits, readBodyWhole } from './request-buffering.ts';

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
  const { body } = exchange;
  if (!plan.hasBody || body === undefined) {
    ready({ kind: 'none' });
    return undefined;
  }
  // A body that broke before now (bad framing, a stall, a client gone while an auth service or
  // a shared rate limit was asked): its 'error' went to nobody, and none comes again.
  if (body.errored !== null) {
    failed(classifyRequestBodyError(body.errored as NodeJS.ErrnoException, 'not_sent'));
    return undefined;
  }
  // The client asked before sending its body: everything that could refuse it has now agreed.
  if (exchange.head.expectContinue) exchange.response.sendContinue();
  if (plan.buffer === 0) {
    ready({ kind: 'stream' });
    return undefined;
  }
  const unannounced = exchange.head.bodyLength === 'chunked';
  const { budget } = exchange;
  return readBodyWhole(
    body,
    unannounced,
    { ...plan.limits, buffer: plan.buffer },
    (read) => {
      if (read instanceof Failure) return failed(read);
      if ('over' in read) return ready({ kind: 'stream' });
      // Held for the exchange's life (every attempt sends it): counted until it is over.
      const held = read.whole.length;
      if (budget !== undefined) exchange.response.onClose(() => budget.add(-held));
      ready({ kind: 'buffer', bytes: read.whole });
    },
    budget,
  );
}
