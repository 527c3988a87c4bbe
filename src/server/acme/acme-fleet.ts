import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisStoreConfig } from '../../core/config/types.ts';
import { openFleetRedis } from '../../core/net/fleet-redis.ts';
import { type HttpChallenge, httpChallengeOf } from './acme-store.ts';

/** Deletes the lock only if it is still the one this gateway took (it may have expired and been taken since). */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How long a challenge stays in Redis: an order's validation is over well within it. */
const CHALLENGE_TTL_S = 600;

/**
 * Automatic HTTPS for a fleet of gateways on one Redis (`store.redis`): one gateway orders each
 * name while it holds the name's lock, the others wait for the certificate it publishes, so ten
 * gateways cost the CA one order, not ten. The challenges go through Redis too: the CA's
 * validation may reach any gateway of the fleet, which answers from here what it did not order.
 * The certificate and its key are kept under the store's prefix, as Caddy keeps them in its
 * shared storage: the Redis of `store.redis` must be as private as `acme.storage`.
 */
export class AcmeFleet {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly owner = randomBytes(12).toString('hex');

  private constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** ioredis comes with the first fleet (fleet-redis.ts). */
  static async open(config: RedisStoreConfig): Promise<AcmeFleet> {
    // Its errors are told by the failing calls, which the manager logs.
    const client = await openFleetRedis(config);
    return new AcmeFleet(client, config.prefix);
  }

  /** Takes the lock on ordering `name` for `ms`; false when another gateway holds it. */
  async lock(name: string, ms: number): Promise<boolean> {
    return (await this.#client.set(this.#key('lock', name), this.owner, 'PX', ms, 'NX')) === 'OK';
  }

  async unlock(name: string): Promise<void> {
    await this.#client.eval(UNLOCK_SCRIPT, 1, this.#key('lock', name), this.owner);
  }

  /**
   * The certificate the fleet holds for `name`, as published (its chain and key, unchecked:
   * the caller checks it can serve); `unusable` says why a value there is not one at all
   * (written by another hand, another version), for the caller to refuse rather than fail on.
   */
  async certificate(
    name: string,
  ): Promise<{ chain: string; key: string } | { unusable: string } | undefined> {
    const text = await this.#client.get(this.#key('certificate', name));
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
    await this.#client.set(this.#key('certificate', name), JSON.stringify({ chain, key }), 'PX', ms);
    await this.#client.del(this.#key('failed', name));
  }

  /**
   * The holder's order of `name` failed: no gateway of the fleet orders it again before `until`
   * (the holder's own retry), or each would take the lock in turn and fail the same way, ten
   * failed validations where the CA counts five an hour.
   */
  async failed(name: string, problem: { type: string; detail: string }, until: number): Promise<void> {
    const ms = Math.max(1_000, until - Date.now());
    const value = JSON.stringify({ type: problem.type, detail: problem.detail, until, by: this.owner });
    await this.#client.set(this.#key('failed', name), value, 'PX', ms);
  }

  /** Another gateway's failed order of `name` whose retry has not come yet; undefined when none. */
  async failure(name: string): Promise<{ type: string; detail: string; until: number } | undefined> {
    const text = await this.#client.get(this.#key('failed', name));
    if (text === null) return undefined;
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
    return { type: parsed.type, detail: parsed.detail, until: parsed.until };
  }

  async httpChallenge(token: string): Promise<HttpChallenge | undefined> {
    const text = await this.#client.get(this.#key('http-01', token));
    return text === null ? undefined : httpChallengeOf(text);
  }

  async setHttpChallenge(token: string, challenge: HttpChallenge | undefined): Promise<void> {
    await this.#set(
      this.#key('http-01', token),
      challenge === undefined ? undefined : JSON.stringify(challenge),
    );
  }

  async alpnChallenge(name: string): Promise<string | undefined> {
    return (await this.#client.get(this.#key('tls-alpn-01', name))) ?? undefined;
  }

  async setAlpnChallenge(name: string, pem: string | undefined): Promise<void> {
    await this.#set(this.#key('tls-alpn-01', name), pem);
  }

  close(): void {
    this.#client.disconnect();
  }

  async #set(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) await this.#client.del(key);
    else await this.#client.set(key, value, 'EX', CHALLENGE_TTL_S);
  }

  #key(kind: string, name: string): string {
    return `${this.#prefix}acme:${kind}:${name}`;
  }
}
