import { createHash } from 'node:crypto';
import type { RateLimitConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import { createFullBucket, refillTime, type TokenBucket, takeToken } from '../../core/limits/token-bucket.ts';
import { clientBlock } from '../../core/net/client-block.ts';
import { joinedValue } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { forwardedClient, type TrustList } from '../../core/net/trust.ts';

/** Keys kept at most per route; beyond it the older generation of buckets is dropped early. */
const MAX_RATE_LIMIT_KEYS = 100_000;

/** Longer header values are hashed, so a bucket's key costs the same whatever clients send. */
const MAX_KEY_LENGTH = 64;

/**
 * Told when buckets go early: a generation dropped for size (more new keys than half of `maxKeys`
 * within a refill time), `dropped` the buckets it held, some of them not yet full again.
 */
export type EarlyDrops = (dropped: number, maxKeys: number) => void;

/**
 * A route's per-client token buckets, in two generations so memory stays bounded under any
 * number of clients without ever walking the buckets. A key used again moves to the current
 * generation; the current one becomes the previous one (and the previous one is dropped
 * whole) when it has run for a full refill time, or when it holds half of `maxKeys`.
 * A generation dropped for time only holds buckets idle for a whole refill time, so full
 * again: the same as a bucket never made, nothing is lost. One dropped for size (more
 * clients than `maxKeys` within a refill time) may give its clients their burst early: the
 * price of a memory bound.
 */
export class RateLimiter {
  readonly config: RateLimitConfig;
  readonly #maxKeys: number;
  readonly #generationSize: number;
  readonly #fullAfter: number;
  #current = new Map<string, TokenBucket>();
  #previous = new Map<string, TokenBucket>();
  #currentSince = Number.NEGATIVE_INFINITY;
  readonly #early: EarlyDrops | undefined;

  constructor(config: RateLimitConfig, maxKeys = MAX_RATE_LIMIT_KEYS, early?: EarlyDrops) {
    this.config = config;
    this.#maxKeys = maxKeys;
    this.#early = early;
    this.#generationSize = Math.max(1, Math.floor(maxKeys / 2));
    this.#fullAfter = refillTime(config);
  }

  /** Buckets held right now. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** 0 when a request with this key may pass, else whole seconds until its next token (at least 1). */
  take(key: string, now: number): number {
    if (now - this.#currentSince >= this.#fullAfter) this.#rotate(now);
    let bucket = this.#current.get(key);
    if (!bucket) {
      bucket = this.#previous.get(key);
      if (bucket) this.#previous.delete(key);
      else bucket = createFullBucket(this.config, now);
      if (this.#current.size >= this.#generationSize) {
        // The memory bound gives these clients a fresh burst: said, so that an operator can tell
        // a flood of keys (or a bound too small for the clients) from a limit that does not hold.
        if (this.#previous.size > 0) this.#early?.(this.#previous.size, this.#maxKeys);
        this.#rotate(now);
      }
      this.#current.set(key, bucket);
    }
    return takeToken(bucket, this.config, now);
  }

  /**
   * These buckets under another limit (a reload that changed it), as the store's are: each
   * keeps its tokens, refilled at the new rate from its last use and never above the new burst.
   * A new limiter would hand every client a full burst of the new limit, a tightened one too.
   */
  reshaped(config: RateLimitConfig): RateLimiter {
    const next = new RateLimiter(config, this.#maxKeys, this.#early);
    next.#current = this.#current;
    next.#previous = this.#previous;
    next.#currentSince = this.#currentSince;
    return next;
  }

  #rotate(now: number): void {
    this.#previous = this.#current;
    this.#current = new Map();
    this.#currentSince = now;
  }
}

/**
 * Whose bucket a request draws from. A `header:NAME` key without that header (or with it
 * empty), and an `identity` key without a user (no auth admitted one: a route without it, a
 * token without the claim), fall back to the client address, so anonymous clients are limited one by one
 * instead of sharing (and starving each other in) one bucket. The prefixes keep a header
 * value that looks like an address out of that address's bucket. The client is the one the IP
 * lists judge: behind trusted proxies (`trust_forwarded_from`), the one they vouch for in
 * X-Forwarded-For or Forwarded (else every user behind a load balancer shares its bucket), else the peer
 * (or its PROXY header's) `peer`; an IPv6 client by its block of `ipv6_prefix` bits.
 */
export function rateLimitKey(
  config: RateLimitConfig,
  fields: Readonly<Record<string, string | string[] | undefined>>,
  peer: string,
  trust: TrustList,
  identity: string | undefined,
): string {
  // `u` keeps a user named like an address, or like a header's value, out of that bucket.
  if (config.key.kind === 'identity' && identity !== undefined) return keyOf('u', identity);
  if (config.key.kind === 'header') {
    const value = fields[config.key.name];
    const text = joinedValue(value);
    // Host as routes read it: each spelling of one host (its case, a trailing dot, a port) would
    // be a bucket of its own, a per-host limit beaten by respelling the field.
    if (text) return keyOf('h', config.key.name === 'host' ? hostnameOf(text) : text);
  }
  // An IPv6 client picks its own addresses in the block it is handed (a /64, often a /56 or
  // a /48): keyed by the address alone, one host would take a fresh bucket per request.
  return `a:${clientBlock(forwardedClient(peer, fields, trust), config.ipv6Prefix)}`;
}

/**
 * A `header:NAME` key's field as the upstream will read it, from `lines` (the fields as they go
 * upstream, access's edit made): its one line's value in any spelling, `X_Api_Key` too, which a
 * CGI-style app (PHP, WSGI, Rack: cgi-spelling.ts) reads as X-Api-Key; undefined when there is
 * none. A 400 when it comes on more than one line: the field is one value (an API key), and which
 * line the upstream reads is its own choice (Go's Header.Get and nginx the first, others the
 * last, node:http all joined). Keyed by the lines joined, a client made a fresh bucket with each
 * made-up second line, and keyed by its address when it sent only `X_Api_Key`, while the
 * upstream still read its spent key. One line holding a comma is one value.
 */
export function keyFieldOf(name: string, lines: readonly string[]): string | undefined | Failure {
  const spelling = cgiSpelling(name);
  let value: string | undefined;
  let count = 0;
  for (let i = 0; i < lines.length; i += 2) {
    if (lines[i].length !== name.length || cgiSpelling(lines[i].toLowerCase()) !== spelling) continue;
    value = lines[i + 1];
    count++;
  }
  if (count < 2) return value;
  return new Failure(
    'http_request_error',
    `the rate limit's key field ${name} came on ${count} lines: which one the upstream reads is its own choice`,
    { status: 400 },
  );
}

/**
 * The 429 for a request over its rate, naming the bucket `key` (from rateLimitKey) drew from;
 * the key's value stays out of it (it may be an API key). A header key whose request sent no
 * value drew from the client address's bucket, and says so.
 */
export function rateLimitFailure(config: RateLimitConfig, key: string, retryAfter: number): Failure {
  // An IPv6 client's key is its block (`a:2001:db8:1:2::/64`), and the 429 says so.
  const address =
    key.startsWith('a:') && key.includes('/')
      ? `this client's IPv6 /${config.ipv6Prefix}`
      : 'this client address';
  const whose =
    config.key.kind === 'identity'
      ? key.startsWith('u')
        ? 'this user'
        : `${address} (no user was admitted)`
      : config.key.kind !== 'header'
        ? address
        : key.startsWith('h')
          ? `this ${config.key.name} value`
          : `${address} (it sent no ${config.key.name} value)`;
  return new Failure(
    'http_request_denied',
    `over the rate limit of ${config.rate} ${config.rate === 1 ? 'request' : 'requests'} per second (burst ${config.burst}) for ${whose}`,
    { retryAfter },
  );
}

/**
 * A user's or a header value's key: `u:alice` as it is, a long one by its hash after `#`
 * (`u#…`). Both after `:`, a user named like another's hash (44 characters of base64) drew
 * from that user's bucket and spent its tokens. A header's value always by its hash (`h#…`): it
 * is a credential as often as not (an API key, a bearer token), and a bucket's key is written
 * where others read it (Redis's KEYS and MONITOR, its replicas and backups).
 */
function keyOf(kind: 'u' | 'h', text: string): string {
  return kind === 'h' || text.length > MAX_KEY_LENGTH ? `${kind}#${sha256(text)}` : `${kind}:${text}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
