/**
 * What an attempt's exchange is given (exchange.ts): the request as every attempt sends it, made
 * once a request (upstream-request.ts), with the route's limits and sinks; and its bounds.
 */
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { StageRun } from '../stages/route-stages.ts';
import type { ReaderMemory } from './reader-memory.ts';
import type { SpoolSpace } from './spool-space.ts';

/** Interim (1xx) answers relayed per exchange at most, by count and by bytes: more are dropped, and counted. */
export const MAX_INTERIM = { count: 16, bytes: 64 * 1024 } as const;

/** The request body an attempt sends: none, the client's stream, or a buffered copy that can be replayed. */
export type AttemptBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'stream' }
  | { readonly kind: 'buffer'; readonly bytes: Buffer };

/** The request's deadline as the upstream is told it: what is left of it when the request goes out. */
export interface DeadlineLeft {
  /** What is left now, as a grpc-timeout value. */
  grpcTimeout(): string;
}

export interface ExchangeOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /**
   * A gRPC client's deadline, written into the request's grpc-timeout when it goes out (the
   * queue's wait, earlier attempts and their backoff spent); undefined: the fields go as they are.
   */
  readonly deadline: DeadlineLeft | undefined;
  readonly body: AttemptBody;
  /** Largest request body accepted when its length is not announced (chunked). */
  readonly bodyLimit: number;
  /** The minimum rate a streamed request body keeps (`limits.body_read_timeout`, `limits.body_min_rate`). */
  readonly bodyRate: { readonly bodyReadTimeout: number; readonly bodyMinRate: number };
  /**
   * Response bytes held for a slow client before the upstream is paused (`routes[].limits.buffer`):
   * a response up to it is taken whole, and its connection goes back to the pool at once.
   */
  readonly responseBuffer: number;
  readonly proxyName: string;
  /**
   * This hop's Via entries for an answer, by the version it was received in (RFC 9110 §7.6.3
   * names the version received): "1.0 edge-1", "1.1 edge-1", "2 edge-1".
   */
  readonly vias: { readonly via10: string; readonly via11: string; readonly via2: string };
  /** next-hop for Proxy-Status on the upstream's own error responses (undefined: errors.detail minimal). */
  readonly nextHop: string | undefined;
  /** An upgrade: the upstream is asked to switch, and a 101 opens a tunnel. */
  readonly upgrade: boolean;
  /** No trailers reach the client after a body of known length (HTTP/1.x): ExchangeRequest's. */
  readonly wholeAtLength: boolean;
  /** The route's response rules, applied to the final head; absent: none. */
  readonly editHeaders: ((headers: readonly string[]) => string[]) | undefined;
  /** The route's stages for this request, which meet the upstream's answer's head; undefined: none. */
  readonly stages: StageRun | undefined;
  /** Where the connect time and the time to first byte are counted. */
  readonly metrics: GatewayMetrics;
  /** Where a response past `responseBuffer` goes while its client is slow (`limits.spool`); undefined: nowhere, the upstream waits. */
  readonly spool: SpoolSpace | undefined;
  /** What every slow client's response may hold in memory together (`limits.buffer_total`); undefined: no bound but each one's. */
  readonly readerMemory: ReaderMemory | undefined;
}
