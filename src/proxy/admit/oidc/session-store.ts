import { createHash, randomBytes } from 'node:crypto';
import type { OidcRedisConfig } from '../../../core/config/access-config.ts';
import { Failure } from '../../../core/failure/failure.ts';
import type { Logger } from '../../../observe/log/logger.ts';
import { RedisLink, type RedisLinkState, redisWhy } from '../redis-link.ts';
import { SESSION_STORE_HOP, type Session } from './session.ts';

/** A new session's id: 32 random bytes, never guessed; the cookie carries it sealed. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The sessions of OpenID Connect routes kept in Redis (`auth.oidc.store.redis`), the cookie
 * carrying only their id: each a JSON value under `PREFIX oidc:ID` that expires with the session
 * (PX), replaced when it is renewed, deleted at the logout. The connection is the rate limit's
 * kind (redis-link.ts): no offline queue and no retry, every call bounded by `timeout`, so a
 * Redis down or slow fails the call at once, told as the store's failure (a 503 naming it), never
 * as the user's (a 401) nor the gateway's (a 500); its state is logged once each way and shown
 * on /status (`session_stores`).
 */
export class SessionStore {
  readonly #link: RedisLink;
  readonly #prefix: string;
  /** The answered sign-in states' keys: beside the sessions', never one of them. */
  readonly #statePrefix: string;
  readonly #logger: Logger;

  constructor(config: OidcRedisConfig, logger: Logger) {
    this.#prefix = `${config.prefix}oidc:`;
    this.#statePrefix = `${config.prefix}oidc-state:`;
    this.#logger = logger;
    this.#link = new RedisLink(
      config.url,
      config.timeout,
      (state, was, why, first) => this.#told(state, was, why, first),
      'candor-oidc-sessions',
    );
  }

  /** As /status shows it: where (no password), under which prefix, and whether it answers. */
  status(): SessionStoreStatus {
    return {
      kind: 'redis',
      address: this.#link.address,
      prefix: this.#prefix,
      state: this.#link.state,
      since: this.#link.since,
      ...(this.#link.why === undefined ? {} : { reason: this.#link.why }),
    };
  }

  /** The session kept under `id`; undefined: none (expired, logged out, never made). */
  async get(id: string): Promise<Session | undefined | Failure> {
    let text: string | null;
    try {
      text = await this.#call(() => this.#link.client.get(this.#prefix + id));
    } catch (err) {
      return this.#failure(err);
    }
    if (text === null) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      return isSession(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** `session` kept under `id` until it expires; undefined when it is written. */
  async put(id: string, session: Session): Promise<undefined | Failure> {
    const life = Math.max(1, Math.ceil(session.e - Date.now()));
    try {
      await this.#call(() => this.#link.client.set(this.#prefix + id, JSON.stringify(session), 'PX', life));
      return undefined;
    } catch (err) {
      return this.#failure(err);
    }
  }

  /** The session under `id` gone; undefined when it is. */
  async delete(id: string): Promise<undefined | Failure> {
    try {
      await this.#call(() => this.#link.client.del(this.#prefix + id));
      return undefined;
    } catch (err) {
      return this.#failure(err);
    }
  }

  /**
   * Takes a sign-in's `state` as answered until `until` (Date.now()), for every worker and gateway
   * on this Redis (SET NX PX under its SHA-256): false when one took it already (a replay, which
   * must not spend the code again: a provider revokes the tokens a code gave when it comes twice).
   */
  async spendState(state: string, until: number): Promise<boolean | Failure> {
    const life = Math.max(1, Math.ceil(until - Date.now()));
    try {
      const set = await this.#call(() => this.#link.client.set(this.#stateKey(state), '1', 'PX', life, 'NX'));
      return set === 'OK';
    } catch (err) {
      return this.#failure(err);
    }
  }

  /** A state given back (its answer failed at the provider): the same answer may come again, to any worker. */
  async giveBackState(state: string): Promise<void> {
    try {
      await this.#call(() => this.#link.client.del(this.#stateKey(state)));
    } catch (err) {
      // Then the retry meets a replay's 400 and signs in afresh: no worse than the provider's own one-use code.
      this.#failure(err);
    }
  }

  #stateKey(state: string): string {
    return this.#statePrefix + createHash('sha256').update(state).digest('base64url');
  }

  close(): void {
    this.#link.close();
  }

  /** One call, unless the store is stalled (RedisLink.stalled): its answer tells the link it is up. */
  async #call<T>(call: () => Promise<T>): Promise<T> {
    const stalled = this.#link.stalled();
    if (stalled !== undefined) throw new Error(stalled);
    const reopening = this.#link.reopening();
    if (reopening !== undefined) await reopening;
    const answer = await this.#link.within(call());
    this.#link.answered();
    return answer;
  }

  #failure(err: unknown): Failure {
    const failure = storeFailure(err);
    this.#link.failed(failure.details);
    return failure;
  }

  /** A change of the store's state (RedisLink), once: logged. */
  #told(state: 'up' | 'down', was: RedisLinkState, why: string, first: boolean): void {
    const store = this.#link.address;
    // The first contact is none of "again", even after failed tries (Redis absent at the start).
    if (state === 'up' && first) this.#logger.info({ store, was }, 'OIDC session store connected');
    else if (state === 'up')
      this.#logger.info({ store, was }, 'OIDC session store reachable: sign-ins served again');
    else
      this.#logger.warn(
        { store, err: why },
        'OIDC session store unreachable: sign-ins and signed-in requests are answered 503 until it answers',
      );
  }
}

/** A session store as /status shows it (no password: the address only). */
export interface SessionStoreStatus {
  readonly kind: 'redis';
  readonly address: string;
  readonly prefix: string;
  readonly state: RedisLinkState;
  readonly since: string;
  /** Why it is down (RedisLink.why); absent while it is not. */
  readonly reason?: string;
}

/** Redis not answering as the hop's failure: unavailable, come back in a second. */
function storeFailure(err: unknown): Failure {
  return new Failure('destination_unavailable', `the session store did not answer: ${redisWhy(err)}`, {
    retryAfter: 1,
    nextHop: SESSION_STORE_HOP,
    cause: err,
    variant: 'session_store_unavailable',
  });
}

/** What Redis held, if it is a session (a key written by hand or by another program is none). */
function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false;
  const { c, a, e } = value as Record<string, unknown>;
  return typeof c === 'object' && c !== null && typeof a === 'number' && typeof e === 'number';
}
