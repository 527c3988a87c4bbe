import {
  type BucketShape,
  createFullBucket,
  refill,
  type TokenBucket,
} from '../../core/limits/token-bucket.ts';
import { clientBlock } from '../../core/net/client-block.ts';

/**
 * Wrong admin tokens a client may send: ten at once, then one every six seconds (ten a minute).
 * A token of 32 random characters is not found at that rate, nor at any rate a listener can
 * answer; the bound is there so that a guesser is seen and slowed, and a short token (the loader
 * refuses one under 16 characters, admin-checks.ts) is not tried at thousands a second.
 */
export const ADMIN_TOKEN_GUESSES: BucketShape = { rate: 10 / 60, burst: 10 };
/** Clients whose wrong tokens are remembered: the oldest is forgotten past this many. */
const MAX_CLIENTS = 1024;

/**
 * Wrong admin tokens per client (its address; an IPv6 client its /64, client-block.ts), in a
 * token bucket each: a client that spent its guesses is answered 429 with Retry-After before its
 * token is looked at, right or wrong, so a guesser learns nothing from it.
 */
export class TokenGuesses {
  readonly #shape: BucketShape;
  readonly #clients = new Map<string, TokenBucket>();

  constructor(shape: BucketShape = ADMIN_TOKEN_GUESSES) {
    this.#shape = shape;
  }

  /** 0 when `address` may have its token checked, else the whole seconds until it may. */
  waitFor(address: string, now = performance.now()): number {
    const bucket = this.#clients.get(clientBlock(address));
    if (bucket === undefined) return 0;
    refill(bucket, this.#shape, now);
    return bucket.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / this.#shape.rate));
  }

  /** `address` sent a wrong token: one guess of its share spent. */
  wrong(address: string, now = performance.now()): void {
    const key = clientBlock(address);
    const bucket = this.#clients.get(key) ?? createFullBucket(this.#shape, now);
    refill(bucket, this.#shape, now);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    // Last touched goes last: the first of the map is the one to forget.
    this.#clients.delete(key);
    this.#clients.set(key, bucket);
    if (this.#clients.size > MAX_CLIENTS) this.#clients.delete(this.#clients.keys().next().value as string);
  }
}
