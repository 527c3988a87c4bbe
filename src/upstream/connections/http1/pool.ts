import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import type { TargetConfig } from '../../../core/config/types.ts';
import type { Connector, ConnectTarget } from '../connector.ts';
import type { PoolOptions, PoolWaiter, TargetPool } from '../target-pool.ts';
import { WaiterQueue } from '../waiter-queue.ts';
import { type ConnectionOwner, UpstreamConnection } from './connection.ts';
import type { ConnectionOptions } from './connection-setup.ts';
import { IdleCloseLearning } from './idle-limit.ts';

/**
 * The connections to one target: idle ones reused most-recent first (the others age out
 * and close), new ones opened while under `maxConnections`, and beyond that a FIFO queue.
 * The queue's time limit belongs to the exchange (queue_timeout), which leaves with
 * cancel(); the queue's length is bounded by max_pending before anyone joins it.
 */
export class ConnectionPool implements ConnectionOwner, TargetPool {
  private readonly target: ConnectTarget;
  private connect: Connector;
  private options: PoolOptions & ConnectionOptions;
  private readonly idle: UpstreamConnection[] = [];
  /**
   * Connections back from a response while requests wait, held until the loop has polled their
   * sockets once more (see release): `fresh` came back since the last check phase, `settling`
   * before it, so a poll runs before the next check phase hands them on. One setImmediate a loop
   * turn serves them all, not two a connection.
   */
  private fresh = new Set<UpstreamConnection>();
  private settling = new Set<UpstreamConnection>();
  private coolingArmed = false;
  /**
   * Connections opened under settings a reload has since changed (timeouts, TLS): they finish
   * the exchange they carry and are closed instead of parked, so no request runs on them again.
   */
  private readonly outdated = new WeakSet<UpstreamConnection>();
  /** Every connection open, so a reload can mark them outdated. */
  private readonly all = new Set<UpstreamConnection>();
  /** Bumped by each reload that outdates connections: one being opened across it is outdated too. */
  private generation = 0;
  /** The target left the config: keep serving the requests of older snapshots, keep nothing idle. */
  private retiring = false;
  private readonly queue = new WaiterQueue();
  /** Connections open or opening (busy + idle + connecting). */
  private open = 0;
  private connecting = 0;
  /** The upstream's idle timeout, learned from the idle connections it closes when it says none. */
  private readonly learning = new IdleCloseLearning();

  constructor(target: TargetConfig, connect: Connector, options: PoolOptions) {
    this.target = { hostname: target.hostname, protocol: target.protocol, port: String(target.port) };
    this.connect = connect;
    this.options = { ...options, authority: new URL(target.origin).host };
  }

  acquire(waiter: PoolWaiter, now?: number): void {
    if (waiter.newConnection !== true) {
      if (this.queue.join(waiter, this.takeIdle, now)) this.openMore();
      return;
    }
    // Its place is made by closing the oldest idle connection, when idle ones fill the bound
    // (its discard opens the new one); else it waits as any other.
    if (this.open >= this.options.maxConnections) this.idle.shift()?.destroy();
    if (this.queue.join(waiter, none, now)) this.openMore();
  }

  cancel(waiter: PoolWaiter): void {
    this.queue.cancel(waiter);
  }

  /** One request a connection: as many in flight as connections allowed. */
  full(active: number): boolean {
    return active >= this.options.maxConnections;
  }

  /** Connections in use or idle, and requests waiting: for the dashboard and the tests. */
  stats(): { open: number; idle: number; waiting: number } {
    return { open: this.open, idle: this.idle.length, waiting: this.queue.length };
  }

  /**
   * A reload kept this target: new settings for the connections opened from now on. When a
   * setting that an open connection already carries changed (`fresh`: its timeouts, its idle
   * limit, its TLS), the idle ones close now and the busy ones after their exchange; otherwise
   * every connection stays, which is the point of keeping the pool.
   */
  reconfigure(connect: Connector, options: PoolOptions, fresh: boolean): void {
    this.connect = connect;
    this.options = { ...options, authority: this.options.authority };
    // A lower max_connections bounds the next requests too: the idle connections past it (the
    // least recently used) close now, the busy ones after their exchange (release, cooled).
    const surplus = Math.min(this.idle.length, this.open - options.maxConnections);
    for (const connection of this.idle.splice(0, Math.max(0, surplus))) connection.destroy();
    if (!fresh) return this.openMore();
    this.generation++;
    for (const connection of this.all) this.outdated.add(connection);
    for (const connection of this.idle.splice(0)) connection.destroy();
    this.openMore();
  }

  /**
   * A reload removed the target: requests of older snapshots still in flight (or retrying on
   * it) are served, but no connection is kept idle, so the pool empties as they end.
   */
  retire(): void {
    this.retiring = true;
    this.closeIdle();
  }

  /** Closes the idle connections (a target taken out of rotation by an operator keeps none open). */
  closeIdle(): void {
    for (const connection of this.idle.splice(0)) connection.destroy();
  }

  // ── the connections' side ────────────────────────────────────────────────────────

  release(connection: UpstreamConnection): void {
    if (this.queue.closing || this.outdated.has(connection) || this.overBound()) return connection.destroy();
    if (this.queue.length > 0 && connection.requests > 0) {
      // A connection that just carried a response is not handed to a waiting request at once:
      // a second answer to the last request, arriving in the next read, would reach the waiter
      // as its own. Parked until the loop has polled the socket once more, bytes arriving
      // meanwhile close it (onSocketData with no exchange). Only queued requests pay the wait.
      connection.park(this.learning.limitNow());
      this.fresh.add(connection);
      if (!this.coolingArmed) {
        this.coolingArmed = true;
        setImmediate(this.coolTick);
      }
      return;
    }
    const next = this.queue.next();
    if (next !== undefined) return next.onConnection(connection);
    if (this.retiring) return connection.destroy();
    connection.park(this.learning.limitNow());
    this.idle.push(connection);
  }

  idleClosed(connection: UpstreamConnection, idleMs: number): void {
    // Parked in the list: not one settling after its response, which the upstream may end for another reason.
    if (!this.idle.includes(connection)) return;
    const { options } = this;
    const now = performance.now();
    const learned = this.learning.heard(idleMs, options.idleTimeout, now);
    if (learned === undefined) return;
    // Those parked before it was learned go by it too: past it, handed out, they would meet the upstream's close.
    for (const parked of this.idle) parked.keepIdleAtMost(learned.limitMs, now);
    if (learned.news) options.idleCloseLearned?.(options.authority, learned.idleMs, learned.limitMs);
  }

  /** A check phase: the settled connections go on, the fresh ones settle. */
  private readonly coolTick = (): void => {
    const settled = this.settling;
    this.settling = this.fresh;
    this.fresh = new Set();
    for (const connection of settled) this.cooled(connection);
    if (this.settling.size > 0) setImmediate(this.coolTick);
    else this.coolingArmed = false;
  };

  private cooled(connection: UpstreamConnection): void {
    if (!this.all.has(connection)) return; // discarded meanwhile
    if (this.queue.closing || this.outdated.has(connection) || connection.closing || this.overBound())
      return connection.destroy();
    // The first waiter wants a new connection: this one closes, and its discard opens one.
    if (this.queue.at(0)?.newConnection === true) return connection.destroy();
    const next = this.queue.next();
    if (next !== undefined) return next.onConnection(connection);
    if (this.retiring) return connection.destroy();
    this.idle.push(connection);
  }

  /** More connections open than a reload's lower max_connections allows: the one coming back closes. */
  private overBound(): boolean {
    return this.open > this.options.maxConnections;
  }

  discard(connection: UpstreamConnection): void {
    this.open--;
    this.fresh.delete(connection);
    this.settling.delete(connection);
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    this.openMore();
  }

  close(): Promise<void> {
    this.queue.close();
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const connection of [...this.fresh, ...this.settling]) connection.destroy();
    this.fresh.clear();
    this.settling.clear();
    return Promise.resolve();
  }

  /** An idle connection still fit to carry a request, at `now` (the attempt's start: one clock reading fewer a request). */
  private readonly takeIdle = (now?: number): UpstreamConnection | undefined => {
    const { idle } = this;
    if (idle.length === 0) return undefined;
    now ??= performance.now();
    let connection = idle.pop();
    // A socket the upstream closed a moment ago may not have reported 'close' yet; one parked
    // past its idle limit may not have heard its timer yet (a busy loop), while the upstream,
    // whose Keep-Alive hint set the limit, is closing it: neither is handed out.
    while (connection !== undefined && (connection.closing || connection.idleOver(now))) {
      connection.destroy();
      connection = idle.pop();
    }
    return connection;
  };

  /** Opens connections for the waiters that no connection being opened already covers. */
  private openMore(): void {
    while (
      this.connecting < this.queue.length &&
      this.open < this.options.maxConnections &&
      !this.queue.closing
    ) {
      // Dialled for the first waiter no connection being opened covers: with its connect bound.
      const waiter = this.queue.at(this.connecting);
      this.open++;
      this.connecting++;
      this.openOne(waiter?.connectTimeout);
    }
  }

  private openOne(timeout: number | undefined): void {
    const started = performance.now();
    const generation = this.generation;
    this.connect(
      this.target,
      (err, socket) => {
        this.connecting--;
        if (err !== null || socket === null) {
          this.open--;
          // The oldest waiter hears why; the others keep waiting for connections of their own.
          this.queue.connectFailed(err, 1);
          this.openMore();
          return;
        }
        const connection = new UpstreamConnection(socket, performance.now() - started, this, this.options);
        this.all.add(connection);
        if (generation !== this.generation) this.outdated.add(connection);
        this.release(connection);
      },
      timeout,
    );
  }
}

/** What a waiter that wants a new connection takes from the idle ones: nothing. */
const none = (): undefined => undefined;
