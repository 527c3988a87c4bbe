import type { Redis } from 'ioredis';
import type { RateLimitConfig, RedisStoreConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { RateStoreVerdict } from './rate-store-verdict.ts';
import { RedisLink, type RedisLinkState, redisWhy } from './redis-link.ts';

/**
 * The token bucket as one atomic step in Redis: refill by the time since the bucket was last
 * touched, measured on Redis's own clock (TIME), so gateways whose clocks disagree still
 * share one bucket rightly; take a token or say how long until the next one. Returns 0 to
 * pass, else whole seconds to wait (at least 1), as takeToken (token-bucket.ts) does. The key
 * expires a second after a full refill, when it would be full anyway. Redis ≥ 5 replicates a
 * script's effects, which is what allows reading TIME before writing (replicate_commands asks
 * for it on older servers). ARGV[3], when above 0, is the time on Redis's clock past which the
 * gateway has given up on the call (its `timeout`): run later (Redis woke from a stall, a network
 * let the call through late), it answers -1 and takes no token, for the request was decided by
 * on_error. The expiry goes as digits: a Lua number past 1e14 (a slow rate's long
 * refill) is turned into a string by a rule that differs among Redis versions, and PEXPIRE refuses
 * `1e+15`.
 */
export const TAKE_TOKEN_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local deadline = tonumber(ARGV[3])
if deadline ~= nil and deadline > 0 and now > deadline then return -1 end
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
  readonly state: RedisLinkState;
  readonly since: string;
  /** Why it is down (RedisLink.why); absent while it is not. */
  readonly reason?: string;
  readonly on_error: 'allow' | 'deny';
}

interface WithTake {
  candorTakeToken(key: string, rate: number, burst: number, deadline: string): Promise<unknown>;
}

/** The script's answer to a call run past its deadline: it took no token. */
const TOO_LATE = -1;

/** How often Redis's clock is read again (TIME) while decisions are asked: the offset follows a drift. */
const CLOCK_READ_MS = 10_000;

/** This process's clock in milliseconds on the wall clock's scale, but monotonic (no step while it runs). */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Redis's TIME reply in milliseconds, or undefined for a reply that is not one (not Redis on that port). */
function redisMilliseconds(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [seconds, micros] = reply.map(Number);
  return Number.isSafeInteger(seconds) && Number.isSafeInteger(micros)
    ? seconds * 1000 + Math.floor(micros / 1000)
    : undefined;
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
 * The rate limits of every route, shared by all the gateways (and workers) on one Redis
 * (`store.redis`): one bucket per route and key, one script call per request, concurrent
 * calls written together (ioredis's auto-pipelining). While Redis is unreachable or slower
 * than `timeout`, every rate-limited request is decided by `on_error` at once: no call waits
 * for a reconnection (the offline queue is off), and the change of state is logged once each
 * way and counted.
 */
export class RedisRates {
  readonly config: RedisStoreConfig;
  readonly #link: RedisLink;
  readonly #logger: Logger;
  readonly #counts: StoreCounts;
  /**
   * How far Redis's clock is ahead of this process's (localNow), at most: its TIME minus when it
   * was asked, so a call's deadline on Redis's clock is never before the gateway gives up on it.
   * Undefined until read (and while Redis's reply to TIME is no time): the calls go without one.
   */
  #offset: number | undefined;
  #clockReadAt = Number.NEGATIVE_INFINITY;

  constructor(config: RedisStoreConfig, logger: Logger, counts: StoreCounts) {
    this.config = config;
    this.#logger = logger;
    this.#counts = counts;
    this.#link = new RedisLink(config.url, config.timeout, (state, was, why, first) =>
      this.#told(state, was, why, first),
    );
    this.#link.client.defineCommand('candorTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN_SCRIPT });
    // Each connection may reach another Redis (a failover behind one address): its clock is read anew.
    this.#link.client.on('ready', () => this.#readClock());
  }

  /** Reads Redis's clock (TIME, written with the decisions of this turn): the offset of call deadlines. */
  #readClock(): void {
    const asked = localNow();
    this.#clockReadAt = asked;
    this.#link.client.time().then(
      (reply) => {
        const redisNow = redisMilliseconds(reply);
        this.#offset = redisNow === undefined ? undefined : redisNow - asked;
      },
      () => {},
    );
  }

  /**
   * 0: pass; n > 0: whole seconds until the key's next token; `{ storeDenied: why }` or
   * `{ storeAllowed: why }`: Redis did not answer (or answered something that is not a decision)
   * and on_error is deny, or allow.
   */
  async take(route: string, limit: RateLimitConfig, key: string): Promise<RateStoreVerdict> {
    const stalled = this.#link.stalled();
    if (stalled !== undefined) return this.#fallback(stalled);
    const reopening = this.#link.reopening();
    if (reopening !== undefined) await reopening;
    try {
      const bucket = this.#key(route, key);
      const client = this.#link.client as Redis & WithTake;
      const asked = localNow();
      if (asked - this.#clockReadAt >= CLOCK_READ_MS) this.#readClock();
      // The call's deadline on Redis's clock: one Redis runs only after this request was decided by
      // on_error (it woke from a stall) takes no token, else the client paid for requests no limit judged.
      const deadline = this.#offset === undefined ? 0 : Math.ceil(asked + this.config.timeout + this.#offset);
      let reply: unknown = await this.#link.within(
        client.candorTakeToken(bucket, limit.rate, limit.burst, String(deadline)),
      );
      if (reply === TOO_LATE && deadline > 0) {
        // Judged late, yet answered in time: Redis's clock stepped ahead of the offset. Read again,
        // and this decision asked once more without a deadline.
        this.#offset = undefined;
        this.#readClock();
        reply = await this.#link.within(client.candorTakeToken(bucket, limit.rate, limit.burst, '0'));
      }
      const wait = toDecision(reply, limit);
      this.#link.answered();
      return wait;
    } catch (err) {
      return this.#fallback(redisWhy(err));
    }
  }

  #fallback(why: string): RateStoreVerdict {
    this.#link.failed(why);
    this.#counts.storeFallback(this.config.onError);
    return this.config.onError === 'allow' ? { storeAllowed: why } : { storeDenied: why };
  }

  status(): StoreStatus {
    return {
      kind: 'redis',
      address: this.#link.address,
      state: this.#link.state,
      since: this.#link.since,
      ...(this.#link.why === undefined ? {} : { reason: this.#link.why }),
      on_error: this.config.onError,
    };
  }

  /** Once its first connection is ready or known down (RedisLink.settled): a reload swaps to a new store then. */
  settled(): Promise<void> {
    return this.#link.settled();
  }

  async close(): Promise<void> {
    this.#link.close();
  }

  /** Route names are free text: their length keeps "a:b" + "c" apart from "a" + "b:c". */
  #key(route: string, key: string): string {
    return `${this.config.prefix}rl:${route.length}:${route}:${key}`;
  }

  /** A change of the store's state (RedisLink), once: counted and logged. */
  #told(state: 'up' | 'down', was: RedisLinkState, why: string, first: boolean): void {
    this.#counts.storeState(state === 'up');
    // The first contact is not a recovery, even after failed tries (Redis absent at the start):
    // "again" is for limits that were shared once.
    if (state === 'up' && first)
      this.#logger.info({ store: this.#link.address, was }, 'rate limit store connected: limits shared');
    else if (state === 'up')
      this.#logger.info(
        { store: this.#link.address, was },
        'rate limit store reachable: limits shared again',
      );
    else
      this.#logger.warn(
        { store: this.#link.address, err: why, on_error: this.config.onError },
        `rate limit store unreachable: rate-limited requests are ${this.config.onError === 'allow' ? 'let through' : 'refused'} until it answers`,
      );
  }
}
