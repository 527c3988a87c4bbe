import { Redis } from 'ioredis';
import type { RateLimitConfig, RedisStoreConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { type RateStoreVerdict, STORE_DENIED } from './rate-store-verdict.ts';

/**
 * The token bucket as one atomic step in Redis: refill by the time since the bucket was last
 * touched, measured on Redis's own clock (TIME), so gateways whose clocks disagree still
 * share one bucket rightly; take a token or say how long until the next one. Returns 0 to
 * pass, else whole seconds to wait (at least 1), as takeToken (token-bucket.ts) does. The key
 * expires a second after a full refill, when it would be full anyway. Redis ≥ 5 replicates a
 * script's effects, which is what allows reading TIME before writing (replicate_commands asks
 * for it on older servers). The expiry goes as digits: a Lua number past 1e14 (a slow rate's long
 * refill) is turned into a string by a rule that differs among Redis versions, and PEXPIRE refuses
 * `1e+15`.
 */
export const TAKE_TOKEN_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1])
local at = tonumber(held[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil(burst / rate * 1000) + 1000))
return wait
`;

/** What the store tells the metrics (GatewayMetrics implements it). */
export interface StoreCounts {
  storeState(up: boolean): void;
  storeFallback(decision: 'allow' | 'deny'): void;
}

/** The store as /status shows it (no password: the address only). */
export interface StoreStatus {
  readonly kind: 'redis';
  readonly address: string;
  readonly state: 'connecting' | 'up' | 'down';
  readonly since: string;
  readonly on_error: 'allow' | 'deny';
}

interface WithTake {
  candorTakeToken(key: string, rate: number, burst: number): Promise<unknown>;
}

/**
 * The script's reply as a decision: a whole number of seconds from 0 (pass) to the limit's
 * own window, the time an empty bucket takes to fill. Anything else (a negative or
 * fractional number, a string, an array, nil) is not an answer our script can give: a
 * server that sends it (a proxy in front of Redis, another program on its port, a key
 * overwritten by hand) fails as an unreachable one does, and on_error decides, rather than
 * letting a limited request through or sending a client away for years.
 */
export function toDecision(reply: unknown, limit: RateLimitConfig): number {
  const window = Math.max(1, Math.ceil(limit.burst / limit.rate));
  if (typeof reply === 'number' && Number.isInteger(reply) && reply >= 0 && reply <= window) return reply;
  const shown = JSON.stringify(reply) ?? String(reply);
  throw new Error(
    `the store answered ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}, not a wait of 0 to ${window} s`,
  );
}

/**
 * Decisions asked and not answered yet, at most. A Redis that stalls (a long fork, swap, a
 * network that drops packets without a reset) keeps its connection: each call gives up after
 * `timeout`, but ioredis keeps its command, to match the replies that may still come, so
 * every request added about 3 KiB for as long as the stall lasted (a gigabyte a minute at
 * 5000 requests a second). Past the bound, on_error decides at once and nothing is sent.
 */
const MAX_UNANSWERED = 1024;

/**
 * How long a store that failed a decision must answer without another failure before it is
 * told up again: a Redis whose latency straddles `timeout` failed every other call, and each
 * success and failure flipped the state, a log line and a count at every request.
 */
const QUIET_BEFORE_UP_MS = 1_000;

/**
 * How long a connection may send nothing at all while decisions fail before it is opened
 * again. A stall (a long fork, swap) and a far end gone without a word (its host lost, a
 * failover behind the same address, a NAT that forgot the flow) look alike from here: nothing
 * comes, nothing closes. TCP gives up on the latter only after about 15 minutes of
 * retransmissions, and until then every decision was on_error's; a stall this long is worth
 * a new connection too.
 */
const SILENT_BEFORE_RECONNECT_MS = 5_000;

/** Reconnection: 50 ms doubling to 2 s, with jitter, for ever (a gateway outlives a Redis restart). */
export function reconnectDelay(times: number): number {
  const ceiling = Math.min(2_000, 50 * 2 ** Math.min(times, 6));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * The rate limits of every route, shared by all the gateways (and workers) on one Redis
 * (`store.redis`): one bucket per route and key, one script call per request, concurrent
 * calls written together (ioredis's auto-pipelining). While Redis is unreachable or slower
 * than `timeout`, every rate-limited request is decided by `on_error` at once: no call waits
 * for a reconnection (the offline queue is off), and the change of state is logged once each
 * way and counted.
 */
export class RedisRates {
  readonly config: RedisStoreConfig;
  readonly #client: Redis & WithTake;
  readonly #logger: Logger;
  readonly #counts: StoreCounts;
  readonly #address: string;
  #state: StoreStatus['state'] = 'connecting';
  #since = new Date().toISOString();
  /** When a decision last failed (performance.now()). */
  #failedAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  /** When the connection last sent anything (performance.now()). */
  #heardAt = Number.NEGATIVE_INFINITY;
  /** Since when decisions have failed with nothing heard (undefined: something was). */
  #silentSince: number | undefined;
  readonly #heard = (): void => {
    this.#heardAt = performance.now();
  };

  constructor(config: RedisStoreConfig, logger: Logger, counts: StoreCounts) {
    this.config = config;
    this.#logger = logger;
    this.#counts = counts;
    const url = new URL(config.url);
    this.#address = `${url.protocol}//${url.host}`;
    this.#client = new Redis(config.url, {
      commandTimeout: config.timeout,
      connectTimeout: Math.max(1_000, config.timeout),
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: reconnectDelay,
    }) as Redis & WithTake;
    this.#client.defineCommand('candorTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN_SCRIPT });
    // Each connection's stream is new: what it sends, replies or not, says it is alive.
    this.#client.on('connect', () => this.#client.stream.on('data', this.#heard));
    this.#client.on('ready', () => this.#set('up', ''));
    // Without an 'error' listener ioredis prints every reconnection failure itself.
    this.#client.on('error', (err: Error) => this.#set('down', err.message));
    this.#client.on('close', () => this.#set('down', 'connection closed'));
  }

  /**
   * 0: pass; n > 0: whole seconds until the key's next token; STORE_DENIED: Redis did not
   * answer (or answered something that is not a decision) and on_error is deny.
   */
  async take(route: string, limit: RateLimitConfig, key: string): Promise<RateStoreVerdict> {
    // Written and awaiting a reply, or waiting for this turn's pipeline to be written.
    const unanswered = this.#client.commandQueue.length + this.#client.autoPipelineQueueSize;
    if (unanswered >= MAX_UNANSWERED)
      return this.#fallback(`${unanswered} decisions sent and not answered: Redis is stalled`);
    try {
      const bucket = this.#key(route, key);
      const reply: unknown = await this.#client.candorTakeToken(bucket, limit.rate, limit.burst);
      const wait = toDecision(reply, limit);
      if (this.#state !== 'up' && performance.now() - this.#failedAt >= QUIET_BEFORE_UP_MS)
        this.#set('up', '');
      return wait;
    } catch (err) {
      return this.#fallback((err as Error).message);
    }
  }

  #fallback(why: string): RateStoreVerdict {
    this.#failedAt = performance.now();
    this.#reconnectIfSilent();
    this.#set('down', why);
    this.#counts.storeFallback(this.config.onError);
    return this.config.onError === 'allow' ? 0 : STORE_DENIED;
  }

  /**
   * A ready connection that has sent nothing since decisions began failing, for
   * SILENT_BEFORE_RECONNECT_MS, is destroyed (an end would wait for a far end that may be
   * gone): ioredis reconnects as after any close, and its unanswered commands go with it.
   */
  #reconnectIfSilent(): void {
    const now = this.#failedAt;
    if (this.#silentSince === undefined || this.#heardAt >= this.#silentSince) this.#silentSince = now;
    else if (now - this.#silentSince >= SILENT_BEFORE_RECONNECT_MS && this.#client.status === 'ready') {
      this.#silentSince = undefined;
      this.#client.stream.destroy();
    }
  }

  status(): StoreStatus {
    return {
      kind: 'redis',
      address: this.#address,
      state: this.#state,
      since: this.#since,
      on_error: this.config.onError,
    };
  }

  async close(): Promise<void> {
    // Our own goodbye is not an outage: no "unreachable" line, no count.
    this.#closed = true;
    this.#client.disconnect();
  }

  /** Route names are free text: their length keeps "a:b" + "c" apart from "a" + "b:c". */
  #key(route: string, key: string): string {
    return `${this.config.prefix}rl:${route.length}:${route}:${key}`;
  }

  #set(state: 'up' | 'down', why: string): void {
    if (this.#closed) return;
    if (state === this.#state) return;
    const was = this.#state;
    this.#state = state;
    this.#since = new Date().toISOString();
    this.#counts.storeState(state === 'up');
    // The first connection is not a recovery: "again" is for a store that was down.
    if (state === 'up' && was === 'connecting')
      this.#logger.info({ store: this.#address }, 'rate limit store connected: limits shared');
    else if (state === 'up')
      this.#logger.info({ store: this.#address, was }, 'rate limit store reachable: limits shared again');
    else
      this.#logger.warn(
        { store: this.#address, err: why, on_error: this.config.onError },
        `rate limit store unreachable: rate-limited requests are ${this.config.onError === 'allow' ? 'let through' : 'refused'} until it answers`,
      );
  }
}
