import type { TargetConfig } from '../../../core/config/types.ts';
import type { Connector, ConnectTarget } from '../connector.ts';
import type { PoolOptions, PoolWaiter, TargetPool } from '../target-pool.ts';
import { WaiterQueue } from '../waiter-queue.ts';
import { H2Session, type H2SessionOptions, type H2SessionOwner, type H2StreamSlot } from './h2-session.ts';

/**
 * The HTTP/2 connections to one target (h2c or h2): few sessions, many streams each. A
 * request takes a stream on the first session with one free (the lower of pool.max_streams
 * and the upstream's SETTINGS_MAX_CONCURRENT_STREAMS); a new session opens only when every
 * open or opening one is full, up to pool.max_connections; beyond that, requests wait in a
 * FIFO queue whose time limit is the exchange's (queue_timeout), as with HTTP/1.1.
 */
export class H2Pool implements TargetPool, H2SessionOwner {
  private readonly target: ConnectTarget;
  private connect: Connector;
  private options: PoolOptions;
  private readonly authority: string;
  private readonly scheme: 'http' | 'https';
  private readonly sessions: H2Session[] = [];
  private readonly queue = new WaiterQueue();
  private connecting = 0;
  /** The target left the config: serve the requests of older snapshots, keep no idle session. */
  private retiring = false;
  /** The waiters were told the pool is full (serve()): told again only once it has had room. */
  private toldFull = false;

  constructor(target: TargetConfig, connect: Connector, options: PoolOptions) {
    this.target = { hostname: target.hostname, protocol: target.protocol, port: String(target.port) };
    this.connect = connect;
    this.options = options;
    this.authority = new URL(target.origin).host;
    this.scheme = target.protocol === 'https:' ? 'https' : 'http';
  }

  acquire(waiter: PoolWaiter): void {
    if (this.queue.join(waiter, this.takeStream)) this.openMore();
  }

  cancel(waiter: PoolWaiter): void {
    this.queue.cancel(waiter);
  }

  /**
   * No session has a stream free and no more may open. Requests are streams, many a
   * connection: `max_connections` requests in flight leave room for more.
   */
  full(): boolean {
    return (
      this.withFreeStream() === undefined &&
      this.sessions.length + this.connecting >= this.options.maxConnections
    );
  }

  /** `open`: sessions open or opening; `idle`: open sessions carrying no stream. */
  stats(): { open: number; idle: number; waiting: number } {
    return {
      open: this.sessions.length + this.connecting,
      idle: this.sessions.filter((s) => s.active === 0).length,
      waiting: this.queue.length,
    };
  }

  /**
   * As ConnectionPool.reconfigure: with `fresh`, the open sessions finish their streams and close;
   * those past a lower max_connections too.
   */
  reconfigure(connect: Connector, options: PoolOptions, fresh: boolean): void {
    this.connect = connect;
    this.options = options;
    if (fresh) for (const session of [...this.sessions]) session.close();
    // A lower max_connections bounds the next streams too: the sessions past it (the idlest
    // first) take no new stream and close once theirs are answered (node:http2's close).
    const surplus = this.sessions.length - options.maxConnections;
    if (surplus > 0)
      for (const session of [...this.sessions].sort((a, b) => a.active - b.active).slice(0, surplus))
        session.close();
    this.serve();
  }

  retire(): void {
    this.retiring = true;
    this.closeIdle();
  }

  closeIdle(): void {
    for (const session of this.sessions.filter((s) => s.active === 0)) session.close();
  }

  close(): Promise<void> {
    this.queue.close();
    for (const session of [...this.sessions]) session.close();
    return Promise.resolve();
  }

  // ── the sessions' side ───────────────────────────────────────────────────────────

  streamEnded(session: H2Session): void {
    if ((this.retiring || this.queue.closing) && session.active === 0) session.close();
    this.serve();
  }

  sessionEnded(session: H2Session): void {
    const at = this.sessions.indexOf(session);
    if (at !== -1) this.sessions.splice(at, 1);
    // The waiters it was to carry (those a session awaiting SETTINGS covers, openMore) hear why,
    // as those of a connection that failed to open do: one each would meet the same upstream.
    if (session.unheard !== undefined) this.queue.connectFailed(session.unheard, this.options.maxStreams);
    this.serve();
  }

  /** Fills the earliest session first: fewer sessions stay busy, the others age out. */
  private withFreeStream(): H2Session | undefined {
    for (const session of this.sessions) if (session.free > 0) return session;
    return undefined;
  }

  /** A stream on the first session with one free, reserved; undefined when all are full. */
  private readonly takeStream = (): H2StreamSlot | undefined => this.withFreeStream()?.reserve();

  /** Hands free streams to waiters in order, then opens sessions for those still waiting. */
  private serve(): void {
    while (this.queue.length > 0) {
      const session = this.withFreeStream();
      if (session === undefined) break;
      (this.queue.next() as PoolWaiter).onConnection(session.reserve());
    }
    this.openMore();
    // A waiter that joined while a connection was opening for it, the pool not yet full, had no
    // queue wait begun: once the upstream's SETTINGS take fewer streams than it was counted on and
    // no connection more may open, it waits behind busy streams, bounded by pool.queue_timeout as
    // one that came to a full pool (it waited to the total timeout, a 504 never sent).
    if (this.queue.length === 0 || !this.full()) this.toldFull = false;
    else if (!this.toldFull) {
      this.toldFull = true;
      this.queue.full();
    }
  }

  /**
   * Opens sessions for the waiters that no session being opened will cover: one waiting for its
   * upstream's SETTINGS (carrying a stream until then) counts as one being opened, or each
   * waiter of a burst on a cold pool would open a connection of its own.
   */
  private openMore(): void {
    const { maxStreams, maxConnections } = this.options;
    let opening = this.connecting;
    for (const session of this.sessions) if (session.awaitingSettings) opening++;
    while (
      !this.queue.closing &&
      this.queue.length > opening * maxStreams &&
      this.sessions.length + this.connecting < maxConnections
    ) {
      // Dialled for the first waiter no session being opened covers: with its connect bound.
      const waiter = this.queue.at(opening * maxStreams);
      this.connecting++;
      opening++;
      this.openOne(waiter?.connectTimeout);
    }
  }

  private openOne(timeout: number | undefined): void {
    const started = performance.now();
    const options: H2SessionOptions = {
      scheme: this.scheme,
      authority: this.authority,
      timeouts: this.options.timeouts,
      maxStreams: this.options.maxStreams,
      idleTimeout: this.options.idleTimeout,
      maxHeaderSize: this.options.maxHeaderSize,
    };
    this.connect(
      this.target,
      (err, socket) => {
        this.connecting--;
        if (err !== null || socket === null) {
          // The waiters this session was to carry hear why (each would have waited on it);
          // the others keep waiting for a session of their own.
          this.queue.connectFailed(err, options.maxStreams);
          this.openMore();
          return;
        }
        if (this.queue.closing) {
          socket.destroy();
          return;
        }
        this.sessions.push(new H2Session(socket, performance.now() - started, this, options));
        this.serve();
      },
      timeout,
    );
  }
}
