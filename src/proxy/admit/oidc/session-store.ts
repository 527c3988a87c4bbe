import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { OidcRedisConfig } from '../../../core/config/access-config.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { reconnectDelay } from '../redis-rates.ts';
import { SESSION_STORE_HOP, type Session } from './session.ts';

/** A new session's id: 32 random bytes, never guessed; the cookie carries it sealed. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The sessions of OpenID Connect routes kept in Redis (`auth.oidc.store.redis`), the cookie
 * carrying only their id: each a JSON value under `PREFIX oidc:ID` that expires with the session
 * (PX), replaced when it is renewed, deleted at the logout. The client is ioredis as the rate
 * limit's (redis-rates.ts): no offline queue and no retry, every call bounded by `timeout`, so a
 * Redis down or slow fails the call at once, told as the store's failure (a 503 naming it), never
 * as the user's (a 401) nor the gateway's (a 500).
 */
export class SessionStore {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(config: OidcRedisConfig) {
    this.#prefix = `${config.prefix}oidc:`;
    this.#client = new Redis(config.url, {
      connectionName: 'candor-oidc-sessions',
      commandTimeout: config.timeout,
      connectTimeout: Math.max(1_000, config.timeout),
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: reconnectDelay,
    });
    // Told by the calls that fail (their requests' 503s and log lines), not by ioredis's own printing.
    this.#client.on('error', () => {});
  }

  /** The session kept under `id`; undefined: none (expired, logged out, never made). */
  async get(id: string): Promise<Session | undefined | Failure> {
    let text: string | null;
    try {
      text = await this.#client.get(this.#prefix + id);
    } catch (err) {
      return storeFailure(err);
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
      await this.#client.set(this.#prefix + id, JSON.stringify(session), 'PX', life);
      return undefined;
    } catch (err) {
      return storeFailure(err);
    }
  }

  /** The session under `id` gone; undefined when it is. */
  async delete(id: string): Promise<undefined | Failure> {
    try {
      await this.#client.del(this.#prefix + id);
      return undefined;
    } catch (err) {
      return storeFailure(err);
    }
  }

  close(): void {
    this.#client.disconnect();
  }
}

/** Redis not answering as the hop's failure: unavailable, come back in a second. */
function storeFailure(err: unknown): Failure {
  return new Failure(
    'destination_unavailable',
    `the session store did not answer: ${(err as Error).message ?? String(err)}`,
    {
      retryAfter: 1,
      nextHop: SESSION_STORE_HOP,
      cause: err,
      wording: {
        title: 'Session store unavailable',
        explanation:
          'the Redis the signed-in sessions are kept in did not answer, so the session could not be read or written',
      },
    },
  );
}

/** What Redis held, if it is a session (a key written by hand or by another program is none). */
function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false;
  const { c, a, e } = value as Record<string, unknown>;
  return typeof c === 'object' && c !== null && typeof a === 'number' && typeof e === 'number';
}
