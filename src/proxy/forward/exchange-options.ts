/**
 * What an attempt's exchange is given (exchange.ts): the request as every attempt sends it, made
 * once a request (upstream-request.ts), with the route's limits and sinks; and its bounds.
 */
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { StageRun } from '../stages/stage-run.ts';
import type { AnswerRelays } from './answer-relay.ts';
import type { BackpressureBounds } from './client-backpressure.ts';
import type { StreamedBodyCopy } from './streamed-body-copy.ts';

/** Interim (1xx) answers relayed per exchange at most, by count and by bytes: more are dropped, and counted. */
export const MAX_INTERIM = { count: 16, bytes: 64 * 1024 } as const;

/**
 * The request body an attempt sends: none, the client's stream (with what its attempts took of it
 * kept, up to `retries.replay_body`, where a retry may follow), or a buffered copy that can be replayed.
 */
export type AttemptBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream'; readonly copy?: StreamedBodyCopy }
  | { readonly kind: 'buffer'; readonly bytes: Buffer };

/**
 * An attempt that queued behind a full pool before a connection took it: how long it queued, when
 * it was sent (performance.now()), and the head clock its upstream was given (the shorter of
 * `retries.per_try_timeout` and `timeouts.response`). TotalDeadline.failureAt reads it: the total
 * deadline that cuts it before that clock ran out was spent by the gateway's own queue.
 */
export interface QueuedBeforeSent {
  readonly queuedMs: number;
  readonly sentAt: number;
  readonly headMs: number;
}

/** The request's deadline as the upstream is told it: what is left of it when the request goes out. */
export interface DeadlineLeft {
  /** The request's fields telling what is left now (a copy: the list is every attempt's). */
  toldIn(headers: readonly string[]): string[];
}

/**
 * What every attempt's exchange reads of the request, the same for all of them, with the bounds of
 * what a slow client's response may hold (client-backpressure.ts): the route's buffer, the
 * process's, the overflow. The request's UpstreamRequest is it (upstream-request.ts): no object
 * is made an attempt to hand these over. The fields differ from one attempt to the next (its
 * traceparent): the exchange is given its own (exchange-attempt.ts).
 */
export interface ExchangeOptions extends BackpressureBounds {
  readonly method: string;
  readonly path: string;
  /**
   * The client's deadline (a gRPC client's), told in the request's fields when it goes out (the
   * queue's wait, earlier attempts and their backoff spent); undefined: the fields go as they are.
   */
  readonly deadline: DeadlineLeft | undefined;
  readonly body: AttemptBody;
  /** Largest request body accepted when its length is not announced (chunked). */
  readonly bodyLimit: number;
  /** The minimum rate a streamed request body keeps (`limits.body_read_timeout`, `limits.body_min_rate`). */
  readonly bodyRate: { readonly bodyReadTimeout: number; readonly bodyMinRate: number };
  readonly proxyName: string;
  /**
   * A call of the gateway's own (an auth hop's): the gateway reads its answer and says its own
   * Proxy-Status member of it (own-answer-head.ts), so the exchange adds none under 500.
   */
  readonly ownCall: boolean;
  /** next-hop for Proxy-Status on the upstream's own error responses, as of now (undefined: errors.detail minimal). */
  readonly nextHop: string | undefined;
  /**
   * This hop's Via entries for an answer, by the version it was received in (RFC 9110 §7.6.3
   * names the version received): "1.0 edge-1", "1.1 edge-1", "2 edge-1".
   */
  readonly vias: { readonly via10: string; readonly via11: string; readonly via2: string };
  /** An upgrade: the upstream is asked to switch, and a 101 opens a tunnel. */
  readonly upgrade: boolean;
  /** No trailers reach the client after a body of known length (HTTP/1.x): ExchangeRequest's. */
  readonly wholeAtLength: boolean;
  /** The route's response rules, applied to the final head; absent: none. */
  readonly editHeaders: ((headers: readonly string[]) => string[]) | undefined;
  /** What reads the answers of the protocol the request speaks over HTTP (gRPC: answer-relay.ts); undefined: none. */
  readonly relays: AnswerRelays | undefined;
  /** The route's stages for this request, which meet the upstream's answer's head; undefined: none. */
  readonly stages: StageRun | undefined;
  /** Where the connect time and the time to first byte are counted. */
  readonly metrics: GatewayMetrics;
}
