import { Redis } from 'ioredis';
import { refuseUnselectedDatabase } from '../../core/net/redis-database.ts';
import { answeredByReplica } from '../../core/net/redis-failover.ts';
import { redisStalled } from '../../core/net/redis-stall.ts';
import { ioredisUrl } from '../../core/net/redis-url.ts';

/**
 * One connection to a Redis a gateway keeps something in (the shared rate limits,
 * redis-rates.ts; the signed-in sessions, oidc/session-store.ts), and what a caller of it must
 * be able to say: whether it answers. The client is ioredis with no offline queue and no retry,
 * every call bounded by `timeout`, so a Redis down or slow fails the call at once and the caller
 * decides; what this keeps is its state (up, down, since when) for /status and the one log line
 * each way, and the two guards a stalled Redis needs (below).
 */
export class RedisLink {
  readonly client: Redis;
  /** The URL's scheme and host: never its password. */
  readonly address: string;
  readonly #told: RedisLinkTold;
  /** ioredis's bound on making a connection (its `connectTimeout`). */
  readonly #connectTimeout: number;
  /** The longest a call waits (`timeout`): within(). */
  readonly #timeout: number;
  #state: RedisLinkState = 'connecting';
  /** It has been up once: an up after that is a recovery, the first is not (it may follow downs: Redis absent at the start). */
  #reached = false;
  #since = new Date().toISOString();
  /** When a call last failed (performance.now()). */
  #failedAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  /** When the connection last sent anything (performance.now()). */
  #heardAt = Number.NEGATIVE_INFINITY;
  /** Since when calls have failed with nothing heard (undefined: something was). */
  #silentSince: number | undefined;
  readonly #heard = (): void => {
    this.#heardAt = performance.now();
  };

  /** `told`: each change of state, once (the caller's log line and count); never after close(). */
  constructor(url: string, timeout: number, told: RedisLinkTold, connectionName?: string) {
    const { protocol, host } = new URL(url);
    this.address = `${protocol}//${host}`;
    this.#told = told;
    this.#connectTimeout = Math.max(1_000, timeout);
    this.#timeout = timeout;
    this.client = new Redis(ioredisUrl(url), {
      ...(connectionName === undefined ? {} : { connectionName }),
      // No commandTimeout: every call is bounded by within(), which looks after the poll before it
      // gives up; ioredis's own timer, run before the reply waiting in the socket is read, would
      // fail a call Redis had answered in time whenever the gateway's loop was held.
      connectTimeout: this.#connectTimeout,
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: reconnectDelay,
      reconnectOnError: answeredByReplica,
    });
    // Each connection's stream is new: what it sends, replies or not, says it is alive.
    this.client.on('connect', () => this.client.stream.on('data', this.#heard));
    this.client.on('ready', () => this.#set('up', ''));
    // Without an 'error' listener ioredis prints every reconnection failure itself.
    this.client.on('error', (err: Error) => this.#set('down', err.message));
    refuseUnselectedDatabase(this.client);
    this.client.on('close', () => {
      // A ready connection closed with nothing asked (Redis's own idle `timeout`, a proxy's idle
      // cut) is no outage: no call met it, and ioredis opens the next at once. Each was a warn line
      // and an info line, and two state changes, every `timeout` seconds of quiet. It is one when
      // the next connection fails (its 'error'), or a call made meanwhile does (failed()).
      if (this.#state === 'up' && this.client.commandQueue.length === 0) return;
      this.#set('down', 'connection closed');
    });
  }

  get state(): RedisLinkState {
    return this.#state;
  }

  /**
   * Resolves once the first connection is ready or known down (refused, a wrong password, its
   * connectTimeout passed), or after SETTLE_MAX_MS; at once when that is known already. Calls
   * made before it are refused (no offline queue): what waits for it is decided by Redis, not by
   * `on_error`.
   */
  settled(): Promise<void> {
    if (this.#state !== 'connecting') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(bound);
        for (const event of ['ready', 'error', 'close']) this.client.off(event, done);
        resolve();
      };
      for (const event of ['ready', 'error', 'close']) this.client.once(event, done);
      // ioredis tells each of those. Bounded also under the 5 s a cluster's primary gives each
      // worker to confirm a reload, whatever the connectTimeout (a long `timeout`).
      const bound = setTimeout(done, Math.min(this.#connectTimeout, SETTLE_MAX_MS));
    });
  }

  /** When the state last changed (a wall-clock ISO string, as /status shows times). */
  get since(): string {
    return this.#since;
  }

  /**
   * Why it went down, as its log line said it (Redis's own error: OOM, WRONGPASS, READONLY…; or
   * no answer): /status shows it beside the state, which alone could not tell a full Redis from
   * a wrong password. Undefined while it is not down.
   */
  get why(): string | undefined {
    return this.#why;
  }

  #why: string | undefined;

  /**
   * `call` failed ("Command timed out", ioredis's words) once `timeout` has passed since it was
   * asked, answered or not. ioredis's commandTimeout counts from when the command is written,
   * and auto-pipelining writes the calls of one turn only once the previous turn's pipeline has
   * its replies: against a stalled Redis, a call asked while a pipeline waited was written only
   * when that one timed out, and waited up to twice `timeout`. Its command stays in ioredis's
   * queue, to match a reply that may still come (stalled() counts it). Its timer looks again
   * after the poll (setImmediate): timers run before I/O, so after a stall of the gateway's own
   * loop a reply Redis sent in time waits unread while it fires, and Redis was told down for it.
   */
  within<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => setImmediate(() => reject(new Error(TIMED_OUT))), this.#timeout);
    });
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  }

  /**
   * A connection Redis closed for idleness is being opened again (the link still up: no call met
   * the close): a call waits for it, up to `timeout`, rather than fail on the gap, which told an
   * outage (a warn line, a state change) and decided a request by `on_error` while Redis was fine.
   * Undefined (no wait) whenever the connection is ready, or the link is not up.
   */
  reopening(): Promise<void> | undefined {
    if (this.client.status === 'ready' || this.#state !== 'up') return undefined;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(bound);
        for (const event of ['ready', 'error', 'end']) this.client.off(event, done);
        resolve();
      };
      for (const event of ['ready', 'error', 'end']) this.client.once(event, done);
      const bound = setTimeout(done, this.#timeout);
    });
  }

  /** Why no call should be sent now (more than MAX_UNANSWERED waiting: redis-stall.ts), or undefined. */
  stalled(): string | undefined {
    return redisStalled(this.client);
  }

  /** A call was answered: up again, once QUIET_BEFORE_UP_MS passed without a failure. */
  answered(): void {
    if (this.#state !== 'up' && performance.now() - this.#failedAt >= QUIET_BEFORE_UP_MS) this.#set('up', '');
  }

  /** A call failed (no answer in time, an answer that is no answer, stalled()): down. */
  failed(why: string): void {
    this.#failedAt = performance.now();
    this.#reconnectIfSilent();
    this.#set('down', why);
  }

  /** Our own goodbye is not an outage: no "unreachable" line, no count. */
  close(): void {
    this.#closed = true;
    this.client.disconnect();
  }

  /**
   * A connection (ready, or made and awaiting its handshake's answer) that has sent nothing since
   * calls began failing, for SILENT_BEFORE_RECONNECT_MS, is destroyed (an end would wait for a far end that may be
   * gone): ioredis reconnects as after any close, and its unanswered commands go with it.
   */
  #reconnectIfSilent(): void {
    const now = this.#failedAt;
    if (this.#silentSince === undefined || this.#heardAt >= this.#silentSince) this.#silentSince = now;
    // 'connect' too: a connection whose TCP handshake came back but whose AUTH and ready check
    // never are (made while the path dropped everything, a stalled far end then lost) waits in it
    // for as long as TCP keeps the socket, ioredis's connectTimeout ending at the handshake.
    else if (
      now - this.#silentSince >= SILENT_BEFORE_RECONNECT_MS &&
      (this.client.status === 'ready' || this.client.status === 'connect')
    ) {
      this.#silentSince = undefined;
      this.client.stream.destroy();
    }
  }

  #set(state: 'up' | 'down', why: string): void {
    if (this.#closed) return;
    if (state === this.#state) {
      // Down for a reason that names no cause (the connection closed, none open yet: a Redis
      // restarted with a password, a maxclients reached, killed): the first reconnection
      // refused says which, and /status shows that while the outage lasts (no line more).
      if (state === 'down' && namesNoCause(this.#why) && !namesNoCause(why)) this.#why = why;
      return;
    }
    const was = this.#state;
    this.#state = state;
    this.#since = new Date().toISOString();
    this.#why = state === 'down' ? why : undefined;
    const first = state === 'up' && !this.#reached;
    if (state === 'up') this.#reached = true;
    this.#told(state, was, why, first);
  }
}

export type RedisLinkState = 'connecting' | 'up' | 'down';

/**
 * A change of a link's state, for its owner's log line and count: `was` the state it left, `why`
 * a down's reason, `first` an up that is the first contact (the store was never reached before,
 * whether it was connecting or down: nothing was shared until now, so nothing is shared "again").
 */
export type RedisLinkTold = (state: 'up' | 'down', was: RedisLinkState, why: string, first: boolean) => void;

/** The longest settled() waits for a first connection (a reload's, before its swap). */
const SETTLE_MAX_MS = 2_000;

/**
 * How long a Redis that failed a call must answer without another failure before it is told up
 * again: one whose latency straddles `timeout` failed every other call, and each success and
 * failure flipped the state, a log line and a count at every request.
 */
const QUIET_BEFORE_UP_MS = 1_000;

/**
 * How long a connection may send nothing at all while calls fail before it is opened again. A
 * stall (a long fork, swap) and a far end gone without a word (its host lost, a failover behind
 * the same address, a NAT that forgot the flow) look alike from here: nothing comes, nothing
 * closes. TCP gives up on the latter only after about 15 minutes of retransmissions, and until
 * then every call failed; a stall this long is worth a new connection too.
 */
const SILENT_BEFORE_RECONNECT_MS = 5_000;

/**
 * Why a call failed, in words an operator (and a client, in Proxy-Status) can read: Redis's own
 * errors (READONLY, OOM, WRONGPASS…) as it wrote them, but ioredis's refusal to send on a
 * connection not ready (with no offline queue) named for what it is, not for the option it cites,
 * and a cluster's redirection without the address it names (another node's, inside the network:
 * a client sees these words, and no internal address is shown it without
 * `errors.expose_upstream_address`).
 */
export function redisWhy(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message === NOT_WRITABLE) return NOT_OPEN;
  const redirected = /^(MOVED|ASK) (\d+) /.exec(message);
  return redirected === null
    ? message
    : `${redirected[1]} ${redirected[2]}: Redis is a cluster node, and another node serves this key's slot (the store takes one Redis, not a cluster)`;
}

/** What ioredis says of a call on a connection not ready, with enableOfflineQueue false. */
const NOT_WRITABLE = "Stream isn't writeable and enableOfflineQueue options is false";

/** What ioredis says of a call its commandTimeout ended, and within() of one its own bound ended. */
const TIMED_OUT = 'Command timed out';

/** How redisWhy says NOT_WRITABLE. */
const NOT_OPEN = 'no connection to it is open (it is being opened again)';

/** A down's reason that says only that a connection is gone or not ready (a caller may put words before it), not why. */
function namesNoCause(why: string | undefined): boolean {
  return why === undefined || why === 'connection closed' || why.endsWith(NOT_OPEN);
}

/** Reconnection: 50 ms doubling to 2 s, with jitter, for ever (a gateway outlives a Redis restart). */
export function reconnectDelay(times: number): number {
  const ceiling = Math.min(2_000, 50 * 2 ** Math.min(times, 6));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
