import type { Failure } from '../../core/failure/failure.ts';
import type { Connector } from './connector.ts';
import type { ConnectionTimeouts, Dispatcher } from './exchange-contract.ts';

/** Someone waiting for a connection: an exchange about to send its request. */
export interface PoolWaiter {
  onConnection(connection: Dispatcher): void;
  /** Opening a connection failed (refused, DNS, TLS, timeout): classified, nothing was sent. */
  onConnectFailure(failure: Failure): void;
  /** A connection opened for this waiter is dialled with this bound (its route's `timeouts.connect`); undefined: the connector's. */
  readonly connectTimeout?: number;
  /**
   * HTTP/1.1: no connection that has carried a request, but a new one (a retry after the
   * keep-alive race: the connections parked beside the one that died may be as stale).
   */
  readonly newConnection?: boolean;
  /**
   * HTTP/2: it joined the queue while a connection was opening for it, and the pool has since
   * found itself full (the upstream's SETTINGS_MAX_CONCURRENT_STREAMS below pool.max_streams,
   * every connection open): it now waits behind busy streams, as one that came to a full pool.
   */
  queued?(): void;
}

export interface PoolOptions {
  readonly timeouts: ConnectionTimeouts;
  /** Milliseconds an idle connection is kept. */
  readonly idleTimeout: number;
  /** The largest response head taken. */
  readonly maxHeaderSize: number;
  readonly maxConnections: number;
  /** HTTP/2 only: streams at once on one connection (the upstream's SETTINGS may lower it). */
  readonly maxStreams: number;
  /** HTTP/1.1 only: bytes past a complete response closed a connection (connection-setup.ts, ConnectionOptions). */
  readonly strayBytes?: (target: string, bytes: number) => void;
  /**
   * HTTP/1.1 only: the target was found closing idle connections after about `idleMs` without
   * saying so; they are now kept at most `limitMs` (idle-limit.ts's IdleCloseLearning).
   */
  readonly idleCloseLearned?: (target: string, idleMs: number, limitMs: number) => void;
}

/** The connections to one target, whichever protocol they speak: what an exchange, a reload and the status page use. */
export interface TargetPool {
  /** `now`: performance.now() when the waiter has just read it (an attempt's start), for the pool's own look at the time. */
  acquire(waiter: PoolWaiter, now?: number): void;
  cancel(waiter: PoolWaiter): void;
  /**
   * A request now would wait for another's to end: every connection (HTTP/2: every stream)
   * is busy and no more may open. `active`: the target's requests in flight on its connections,
   * this one and its tunnels not counted (upstream.ts, poolFull). What `pool.max_pending` and
   * `pool.queue_timeout` bound.
   */
  full(active: number): boolean;
  stats(): { open: number; idle: number; waiting: number };
  reconfigure(connect: Connector, options: PoolOptions, fresh: boolean): void;
  retire(): void;
  closeIdle(): void;
  close(): Promise<void>;
}
