/**
 * What the request path knows of the rate limit store's verdict, apart from the store itself
 * (redis-rates.ts): that module, and ioredis with it, is loaded only by a gateway whose
 * config has a `store`.
 */
import { Failure } from '../../core/failure/failure.ts';

/**
 * What a request gets from the store when Redis did not decide and `store.redis.on_error` is
 * deny: why it did not, in the words of redisWhy (redis-link.ts), for the request's own answer
 * and log line (the store's warn line is written once per outage, and names its first failure).
 */
export interface StoreDenied {
  readonly storeDenied: string;
}

/**
 * What a request gets when Redis did not decide and on_error is allow: let through, its limit not
 * checked, and why (redisWhy's words), for its log line (`rate_limit_unchecked`): a 200 that no
 * limit was asked about must not read as one the shared bucket let through.
 */
export interface StoreAllowed {
  readonly storeAllowed: string;
}

/** 0: pass; n > 0: whole seconds until the key's next token; or the store's failure, denied or let through unchecked. */
export type RateStoreVerdict = number | StoreDenied | StoreAllowed;

/**
 * The answer to a rate-limited request while the store does not decide and on_error is deny:
 * the gateway's own refusal, not the client's rate (a 429 would say the client sent too much).
 * The details name the store's failure (a timeout, Redis's OOM, READONLY…): redisWhy's words
 * hold no address and no password, as the session store's 503 already shows them.
 */
export function storeDeniedFailure(denied: StoreDenied): Failure {
  return new Failure(
    'proxy_internal_response',
    `the rate limit store could not decide (${denied.storeDenied}), and store.redis.on_error is deny`,
    { retryAfter: 1 },
  );
}
