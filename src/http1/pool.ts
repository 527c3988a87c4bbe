import type { TargetConfig } from '../config/types.ts';
import { Failure } from '../failure/failure.ts';
import { type ConnectionOptions, type ConnectionOwner, UpstreamConnection } from './connection.ts';
import type { Connector, ConnectTarget } from './connector.ts';

/** Someone waiting for a connection: an exchange about to send its request. */
export interface PoolWaiter {
  onConnection(connection: UpstreamConnection): void;
  /** Opening a connection failed (refused, DNS, TLS, timeout): classified, nothing was sent. */
  onConnectFailure(failure: Failure): void;
}

export interface PoolOptions extends Omit<ConnectionOptions, 'authority'> {
  readonly maxConnections: number;
}

/**
 * The connections to one target: idle ones reused most-recent first (the others age out
 * and close), new ones opened while under `maxConnections`, and beyond that a FIFO queue.
 * The queue's time limit belongs to the exchange (queue_timeout), which leaves with
 * cancel(); the queue's length is bounded by max_pending before anyone joins it.
 */
export class ConnectionPool implements ConnectionOwner {
  private readonly target: ConnectTarget;
  private readonly connect: Connector;
  private readonly options: PoolOptions & ConnectionOptions;
  private readonly idle: UpstreamConnection[] = [];
  /** Connections back from a response, held a loop turn before a queued request gets one. */
  private readonly cooling = new Set<UpstreamConnection>();
  private readonly waiting: PoolWaiter[] = [];
  /** Connections open or opening (busy + idle + connecting). */
  private open = 0;
  private connecting = 0;
  private closing = false;

  constructor(target: TargetConfig, connect: Connector, options: PoolOptions) {
    this.target = { hostname: target.hostname, protocol: target.protocol, port: String(target.port) };
    this.connect = connect;
    this.options = { ...options, authority: new URL(target.origin).host };
  }

  acquire(waiter: PoolWaiter): void {
    if (this.closing) {
      waiter.onConnectFailure(shuttingDown());
      return;
    }
    const connection = this.takeIdle();
    if (connection !== undefined) return waiter.onConnection(connection);
    this.waiting.push(waiter);
    this.openMore();
  }

  /** The waiter gave up (client gone, queue timeout): a connection opened for it serves the next one. */
  cancel(waiter: PoolWaiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at !== -1) this.waiting.splice(at, 1);
  }

  /** Connections in use or idle, and requests waiting: for the dashboard and the tests. */
  stats(): { open: number; idle: number; waiting: number } {
    return { open: this.open, idle: this.idle.length, waiting: this.waiting.length };
  }

  // ── the connections' side ────────────────────────────────────────────────────────

  release(connection: UpstreamConnection): void {
    if (this.closing) return connection.destroy();
    if (this.waiting.length > 0 && connection.requests > 0) {
      // A connection that just carried a response is not handed to a waiting request at once:
      // a second answer to the last request, arriving in the next read, would reach the waiter
      // as its own. Parked until the loop has polled the socket once more, bytes arriving
      // meanwhile close it (onSocketData with no exchange). Only queued requests pay the wait.
      connection.park();
      this.cooling.add(connection);
      setImmediate(() => setImmediate(() => this.cooled(connection)));
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) return next.onConnection(connection);
    connection.park();
    this.idle.push(connection);
  }

  private cooled(connection: UpstreamConnection): void {
    if (!this.cooling.delete(connection)) return; // discarded meanwhile
    if (this.closing || connection.socket.destroyed) return connection.destroy();
    const next = this.waiting.shift();
    if (next !== undefined) return next.onConnection(connection);
    this.idle.push(connection);
  }

  discard(connection: UpstreamConnection): void {
    this.open--;
    this.cooling.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    this.openMore();
  }

  close(): Promise<void> {
    this.closing = true;
    const failure = shuttingDown();
    for (const waiter of this.waiting.splice(0)) waiter.onConnectFailure(failure);
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const connection of this.cooling) connection.destroy();
    this.cooling.clear();
    return Promise.resolve();
  }

  private takeIdle(): UpstreamConnection | undefined {
    let connection = this.idle.pop();
    // A socket the upstream closed a moment ago may not have reported 'close' yet.
    while (connection?.socket.destroyed) connection = this.idle.pop();
    return connection;
  }

  /** Opens connections for the waiters that no connection being opened already covers. */
  private openMore(): void {
    while (
      this.connecting < this.waiting.length &&
      this.open < this.options.maxConnections &&
      !this.closing
    ) {
      this.open++;
      this.connecting++;
      this.openOne();
    }
  }

  private openOne(): void {
    const started = performance.now();
    this.connect(this.target, (err, socket) => {
      this.connecting--;
      if (err !== null || socket === null) {
        this.open--;
        // The oldest waiter hears why; the others keep waiting for connections of their own.
        const waiter = this.waiting.shift();
        waiter?.onConnectFailure(
          err ?? new Failure('connection_terminated', 'connection failed while opening'),
        );
        this.openMore();
        return;
      }
      const connection = new UpstreamConnection(socket, performance.now() - started, this, this.options);
      this.release(connection);
    });
  }
}

/** The gateway's own decision (it is stopping), not a bug of its: a 503 to retry elsewhere. */
function shuttingDown(): Failure {
  return new Failure('proxy_internal_response', 'the gateway is shutting down', { retryAfter: 1 });
}
