import { classifyFetchError } from '../../core/failure/classify-fetch.ts';
import { Failure } from '../../core/failure/failure.ts';
import { unusableAnswer } from '../../core/failure/unusable-answer.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { authHopFailure, callAuthHop, hopLooping, hopUnavailable, timedOut } from './auth-hop.ts';
import type { AuthHopHealth } from './auth-hop-health.ts';
import { JwkSet } from './jwk-set.ts';

/** The bound on one fetch of the JWKS, connection and body alike, unless the hop says its own. */
const FETCH_TIMEOUT_MS = 5000;
/** Larger than any key set worth reading. */
const MAX_BODY = 1024 * 1024;
/** Kept this long when the answer says nothing of its freshness. */
const DEFAULT_TTL_MS = 5 * 60_000;
/** However long Cache-Control says, the keys are asked for again after this. */
const MAX_TTL_MS = 24 * 60 * 60_000;
/**
 * With no good keys yet, a failed fetch is that failure for the requests of this long (or of
 * minRefresh, when shorter), then asked again: short, so the keys are had soon after the
 * endpoint's return (a route without them refuses everyone), yet never a fetch per request.
 */
const NO_KEYS_RETRY_MS = 1000;

/** Seconds of max-age in a Cache-Control, as milliseconds; 0 for no-store/no-cache; undefined when it says neither. */
function freshFor(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/i.test(cacheControl)) return 0;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(cacheControl);
  return match ? Number(match[1]) * 1000 : undefined;
}

/**
 * A JSON Web Key Set fetched from its URL: kept as long as its Cache-Control says (within
 * [minRefresh, 24 h]), fetched again for a token's key it lacks (an unknown kid; no kid, and no
 * key verifies it) at most once per minRefresh (a client sending made-up kids or forged
 * signatures cannot make the gateway hammer the endpoint), one fetch at a time. A
 * fetch failing after a good one keeps the last good keys (logged); failing with none yet, it
 * is the auth hop's failure, classified like an upstream's (502, 504, 503 by its shape).
 */
export class RemoteJwks {
  /** Where the key set is fetched from. */
  readonly url: string;
  readonly #hop: string;
  readonly #minRefresh: number;
  readonly #logger: Logger;
  /** The bound on one fetch (an OpenID provider's `timeout`), connection and body alike. */
  readonly #timeout: number;
  #set: JwkSet | undefined;
  #expiresAt = 0;
  #lastFetch = Number.NEGATIVE_INFINITY;
  #fetching: Promise<JwkSet> | undefined;
  /** The latest fetch's failure (the last good keys kept, or none had yet); undefined once a fetch succeeds. */
  #failure: Failure | undefined;
  /** When the latest fetch failed. */
  #failedAt = Number.NEGATIVE_INFINITY;
  /** Its fetches and latest failure, for the status page. */
  readonly health: AuthHopHealth;

  /** `health`: the record of the hop `auth:NAME`, shared with the other key sets its host serves. */
  constructor(
    url: string,
    health: AuthHopHealth,
    minRefresh: number,
    logger: Logger,
    timeout = FETCH_TIMEOUT_MS,
  ) {
    this.url = url;
    this.#timeout = timeout;
    this.#hop = health.name;
    this.health = health;
    this.#minRefresh = minRefresh;
    this.#logger = logger;
  }

  /**
   * Takes what `previous` (the same URL, another refresh interval: a reload changed it) has of
   * the endpoint: its keys and when they are due, its latest fetch and failure. A reload while
   * the endpoint is down must not turn good tokens into 502s.
   */
  adopt(previous: RemoteJwks): void {
    this.#set = previous.#set;
    this.#expiresAt = previous.#expiresAt;
    this.#lastFetch = previous.#lastFetch;
    this.#failure = previous.#failure;
    this.#failedAt = previous.#failedAt;
  }

  /** The cached keys while fresh, else undefined (nothing is fetched). */
  fresh(): JwkSet | undefined {
    return this.#set !== undefined && performance.now() < this.#expiresAt ? this.#set : undefined;
  }

  /**
   * The keys to verify with: the cached ones while fresh, else fetched (rejects with the hop's
   * Failure when none can be had). With none had yet, a fetch that failed within
   * NO_KEYS_RETRY_MS (or minRefresh) is that failure, asked of nobody: a gateway started while
   * its identity provider is down would otherwise fetch once per client request.
   */
  keys(): JwkSet | Promise<JwkSet> {
    const now = performance.now();
    if (this.#set !== undefined && now < this.#expiresAt) return this.#set;
    const failure = this.#failure;
    if (
      this.#set === undefined &&
      failure !== undefined &&
      this.#fetching === undefined &&
      now - this.#failedAt < Math.min(NO_KEYS_RETRY_MS, this.#minRefresh)
    )
      return Promise.reject(failure);
    return this.#refresh();
  }

  /**
   * A token's key is not among the keys at hand (a kid they lack; no kid, and none verifies it):
   * the fetch under way, else a new one, unless one was made within minRefresh (undefined: the
   * keys at hand are the endpoint's latest word), so a flood of bad tokens is one fetch. A fetch
   * that failed, now or within minRefresh, is that failure: the keys that might hold the token's
   * could not be had, which is the hop's failure, not the token's.
   */
  async lackingKey(): Promise<JwkSet | Failure | undefined> {
    if (this.#fetching === undefined && performance.now() - this.#lastFetch < this.#minRefresh)
      return this.#failure;
    const set = await this.#refresh();
    return this.#failure ?? set;
  }

  /**
   * The key a token names is in the set but cannot check a signature (unreadable, private, its
   * `key_ops` other than verify): the endpoint's garbage, the hop's 502, not the token's 401.
   */
  unusableKey(): Failure {
    return authHopFailure(
      unusableAnswer('the key the token names cannot check a signature'),
      this.#hop,
      'the JWKS endpoint',
    );
  }

  #refresh(): Promise<JwkSet> {
    this.#fetching ??= this.#fetch().finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  async #fetch(): Promise<JwkSet> {
    const started = performance.now();
    this.#lastFetch = started;
    try {
      const { keys, ttl } = await this.#download(started);
      // Imported here, once: a token's check is then one synchronous signature check.
      this.#set = new JwkSet(keys);
      this.#failure = undefined;
      this.health.fetched();
      this.#expiresAt = performance.now() + Math.min(MAX_TTL_MS, Math.max(this.#minRefresh, ttl));
      return this.#set;
    } catch (err) {
      const failure =
        err instanceof Failure
          ? authHopFailure(err, this.#hop, 'the JWKS endpoint')
          : authHopFailure(
              new Failure('proxy_internal_error', 'the keys could not be read', { cause: err }),
              this.#hop,
              'the JWKS endpoint',
            );
      this.health.failed(failure);
      this.#failure = failure;
      this.#failedAt = performance.now();
      if (this.#set === undefined) throw failure;
      // The last good keys stay: a token signed by them is still good; ask again after minRefresh.
      this.#expiresAt = performance.now() + this.#minRefresh;
      this.#logger.warn(
        { hop: this.#hop, error: failure.type, details: failure.details },
        'JWKS fetch failed: keeping the last good keys',
      );
      return this.#set;
    }
  }

  async #download(started: number): Promise<{ keys: unknown; ttl: number }> {
    // The call's time bound covers the body too (its signal aborts the stream).
    const answer = await callAuthHop(
      this.url,
      { headers: { accept: 'application/jwk-set+json, application/json' } },
      this.#timeout,
    );
    if (answer.status !== 200) {
      void answer.body?.cancel();
      // A 429 is the endpoint throttling the gateway's fetches: unavailable for now, as a 503 is.
      if (answer.status >= 500 || answer.status === 429)
        throw (
          hopLooping(answer.status, answer.headers.get('proxy-status') ?? undefined) ??
          hopUnavailable(answer.status, answer.headers.get('retry-after'))
        );
      throw unusableAnswer(`it answered ${answer.status}, not a key set`);
    }
    let text: string;
    try {
      text = await boundedText(answer, MAX_BODY);
    } catch (err) {
      if (err instanceof Failure) throw err;
      throw timedOut(err)
        ? new Failure(
            'http_response_timeout',
            `the key set did not arrive within ${this.#timeout / 1000} s`,
            {
              stage: 'head_received',
            },
          )
        : classifyFetchError(err, performance.now() - started, 'head_received');
    }
    let keys: unknown;
    try {
      keys = JSON.parse(text);
    } catch {
      throw unusableAnswer('its answer is not JSON');
    }
    // Every member an object, as JwkSet requires: anything else is the endpoint's garbage, not a bug here.
    const members = typeof keys === 'object' && keys !== null ? (keys as { keys?: unknown }).keys : undefined;
    if (
      !Array.isArray(members) ||
      !members.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key))
    )
      throw unusableAnswer('its answer is not a key set ({"keys": [...]})');
    return {
      keys,
      ttl: freshFor(answer.headers.get('cache-control')) ?? DEFAULT_TTL_MS,
    };
  }
}

/**
 * UTF-8 as fetch's `json()` decodes a body (and so jose's remote key set): a leading byte order
 * mark dropped (a key set saved by an editor that writes one and served as it is), which
 * `Buffer.toString` keeps, and JSON.parse refuses.
 */
const UTF8 = new TextDecoder('utf-8');

/** The body as text, refused past `max` bytes. */
async function boundedText(answer: Response, max: number): Promise<string> {
  const reader = answer.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel();
      throw unusableAnswer(`its key set is over ${max} bytes`);
    }
    chunks.push(value);
  }
  return UTF8.decode(Buffer.concat(chunks));
}
