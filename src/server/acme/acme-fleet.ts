import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisStoreConfig } from '../../core/config/types.ts';
import { openFleetRedis } from '../../core/net/fleet-redis.ts';
import { redisStalled } from '../../core/net/redis-stall.ts';
import { directoryId, type HttpChallenge, httpChallengeOf } from './acme-store.ts';
import { MAX_BACKOFF_MS } from './renewal.ts';

/** Deletes the lock only if it is still the one this gateway took (it may have expired and been taken since). */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Takes the lock for ARGV[2] ms; a lock held with no expiry, or one longer than an order's (put
 * there by another hand or version), is given this one's, or it would stop every order for good.
 */
const LOCK_SCRIPT = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** A failed marker and the milliseconds it has left (-1: no expiry). */
const FAILED_SCRIPT = `return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}`;

/**
 * The longest another gateway's failed order stops this one: the longest backoff of its own
 * (renewal.ts), not a CA's week-long Retry-After, which each gateway meets for itself in one
 * refused request. A marker with no expiry or a longer one was not written by a gateway.
 */
const MAX_FAILED_MS = MAX_BACKOFF_MS;

/** How long a challenge stays in Redis: an order's validation is over well within it. */
const CHALLENGE_TTL_S = 600;

/**
 * Automatic HTTPS for a fleet of gateways on one Redis (`store.redis`): one gateway orders each
 * name while it holds the name's lock, the others wait for the certificate it publishes, so ten
 * gateways cost the CA one order, not ten. The challenges go through Redis too: the CA's
 * validation may reach any gateway of the fleet, which answers from here what it did not order.
 * The certificate and its key are kept under the store's prefix, as Caddy keeps them in its
 * shared storage: the Redis of `store.redis` must be as private as `acme.storage`.
 *
 * The certificates, locks and failed orders are the ACME directory's (`<prefix>acme:<directory
 * id>:…`, the id of its account key in acme.storage): a staging gateway on the same Redis and
 * prefix neither hands its certificate to production nor stops its orders. The challenges are
 * not: a token is the CA's own random value, and the CA's validation may reach a gateway of the
 * fleet ordering from another directory. Nothing read here is trusted for being here
 * (fleet-turn.ts checks a certificate against this gateway's own CA; every lock and failed
 * order ends).
 */
export class AcmeFleet {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #directory: string;
  readonly owner = randomBytes(12).toString('hex');

  private constructor(client: Redis, prefix: string, directory: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#directory = directoryId(directory);
  }

  /** ioredis comes with the first fleet (fleet-redis.ts). */
  static async open(config: RedisStoreConfig, directory: string): Promise<AcmeFleet> {
    // Its errors are told by the failing calls, which the manager logs.
    const client = await openFleetRedis(config);
    return new AcmeFleet(client, config.prefix, directory);
  }

  /** Takes the lock on ordering `name` for `ms`; false when another gateway holds it. */
  async lock(name: string, ms: number): Promise<boolean> {
    return (await this.#client.eval(LOCK_SCRIPT, 1, this.#ordering('lock', name), this.owner, ms)) === 1;
  }

  async unlock(name: string): Promise<void> {
    await this.#client.eval(UNLOCK_SCRIPT, 1, this.#ordering('lock', name), this.owner);
  }

  /**
   * The certificate the fleet holds for `name`, as published (its chain and key, unchecked:
   * the caller checks it can serve); `unusable` says why a value there is not one at all
   * (written by another hand, another version), for the caller to refuse rather than fail on.
   */
  async certificate(
    name: string,
  ): Promise<{ chain: string; key: string } | { unusable: string } | undefined> {
    const text = await this.#client.get(this.#ordering('certificate', name));
    if (text === null) return undefined;
    let parsed: { chain?: unknown; key?: unknown } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return typeof parsed?.chain === 'string' && typeof parsed.key === 'string'
      ? { chain: parsed.chain, key: parsed.key }
      : { unusable: 'not the JSON of a chain and a key' };
  }

  /** Kept until the certificate ends; the fleet's failed order before it is over. */
  async publish(name: string, chain: string, key: string, notAfter: number): Promise<void> {
    const ms = Math.max(1_000, notAfter - Date.now());
    await this.#client.set(this.#ordering('certificate', name), JSON.stringify({ chain, key }), 'PX', ms);
    await this.#client.del(this.#ordering('failed', name));
  }

  /**
   * The holder's order of `name` failed: no gateway of the fleet orders it again before `until`
   * (the holder's own retry), or each would take the lock in turn and fail the same way, ten
   * failed validations where the CA counts five an hour. At most MAX_FAILED_MS.
   */
  async failed(name: string, problem: { type: string; detail: string }, until: number): Promise<void> {
    const ms = Math.min(MAX_FAILED_MS, Math.max(1_000, until - Date.now()));
    const value = JSON.stringify({
      type: problem.type,
      detail: problem.detail,
      until: Date.now() + ms,
      by: this.owner,
    });
    await this.#client.set(this.#ordering('failed', name), value, 'PX', ms);
  }

  /**
   * Another gateway's failed order of `name` whose retry has not come yet; undefined when none,
   * or when the marker is none a gateway writes (no expiry, or one longer than MAX_FAILED_MS).
   */
  async failure(name: string): Promise<{ type: string; detail: string; until: number } | undefined> {
    const [text, ttl] = (await this.#client.eval(FAILED_SCRIPT, 1, this.#ordering('failed', name))) as [
      string | null,
      number,
    ];
    if (text === null || ttl < 0 || ttl > MAX_FAILED_MS) return undefined;
    // A value of another hand or version is no failure: told as Redis not answering, it had
    // this gateway order alone, without the lock, sharing nothing with the fleet.
    let parsed: { type?: unknown; detail?: unknown; until?: unknown; by?: unknown } | null;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.type !== 'string' ||
      typeof parsed.detail !== 'string' ||
      typeof parsed.until !== 'number'
    )
      return undefined;
    if (parsed.by === this.owner || parsed.until <= Date.now()) return undefined;
    return { type: parsed.type, detail: parsed.detail, until: Math.min(parsed.until, Date.now() + ttl) };
  }

  async httpChallenge(token: string): Promise<HttpChallenge | undefined> {
    const text = await this.#lookup(this.#key('http-01', token));
    return text === null ? undefined : httpChallengeOf(text);
  }

  async setHttpChallenge(token: string, challenge: HttpChallenge | undefined): Promise<void> {
    await this.#set(
      this.#key('http-01', token),
      challenge === undefined ? undefined : JSON.stringify(challenge),
    );
  }

  async alpnChallenge(name: string): Promise<string | undefined> {
    return (await this.#lookup(this.#key('tls-alpn-01', name))) ?? undefined;
  }

  async setAlpnChallenge(name: string, pem: string | undefined): Promise<void> {
    await this.#set(this.#key('tls-alpn-01', name), pem);
  }

  close(): void {
    this.#client.disconnect();
  }

  /**
   * A challenge's lookup, which any client's request or handshake makes: refused at once while
   * Redis is stalled past its bound (redis-stall.ts), so asking fast cannot grow the queue.
   */
  async #lookup(key: string): Promise<string | null> {
    const stalled = redisStalled(this.#client);
    if (stalled !== undefined) throw new Error(stalled);
    return await this.#client.get(key);
  }

  async #set(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) await this.#client.del(key);
    else await this.#client.set(key, value, 'EX', CHALLENGE_TTL_S);
  }

  #key(kind: string, name: string): string {
    return `${this.#prefix}acme:${kind}:${name}`;
  }

  /** The key of an entry of this gateway's ACME directory. */
  #ordering(kind: 'certificate' | 'lock' | 'failed', name: string): string {
    return `${this.#prefix}acme:${this.#directory}:${kind}:${name}`;
  }
}
