import CachePolicy from 'http-cache-semantics';
import type { FieldMap } from '../../core/net/downstream.ts';
import { agedFromAsking, unreadableAge, withDate, withReadableAge } from './age-field.ts';
import { caseless, forbidsSharedStore, outsideQuotes } from './directive-case.ts';
import { type CacheGrants, type Freshness, freshnessOf, type Reuse, reuseOf } from './freshness.ts';
import { updatedFields } from './not-modified-update.ts';
import { refusesStale } from './stale-refusal.ts';
import { varyNames } from './vary-fields.ts';

/** What the cache asks of a request: the stored request it is compared with (RFC 9111 §4). */
export interface CacheRequest {
  readonly method: string;
  /** The path and query the upstream receives. */
  readonly url: string;
  /** The request's fields, by lowercase name; `host` is the one the route was matched by. */
  readonly headers: FieldMap;
  /** When it went upstream (ms since the epoch; 0 or absent: unknown): its answer's age counts from then. */
  readonly askedAt?: number;
  /** The route's authentication let it in, by whatever means (cache-request.ts): one with Authorization to §3.5. */
  readonly authenticated?: boolean;
}

/**
 * Every policy decision is a shared cache's (RFC 9111 §3.5: `private` is not stored, `s-maxage`
 * counts). `immutable` adds no freshness (RFC 8246: it says the answer will not change while it
 * is fresh, not for how long): the library's default gave it a minimum of 24 h, which it counts as
 * seconds, so `public, immutable` with an Expires a minute off was kept fresh for 1000 days.
 */
export const SHARED = { shared: true, immutableMinTimeToLive: 0 } as const;

/** The Warning http-cache-semantics appends to an answer heuristically fresh for over a day, and a day old. */
const HEURISTIC_WARNING = '113 - "rfc7234 5.5.4"';

/**
 * What every hit reads of a stored answer, made once for its policy (the store's, a 304's update)
 * rather than read through the library's CachePolicy at each request: its freshness lifetime
 * (the library's maxAge() of the freshness policy, which reads no clock) and what its age counts
 * from (age() is the Age field's seconds plus the time since the answer came), its fields as
 * they go out with the place of Age's value, and what the library's request matching compares.
 * The figures are the library's own, read once: a hit's verdict, ttl and Age are what it gave.
 */
interface HitView {
  /** Seconds of freshness (maxAge()): constant for a policy. */
  readonly lifetime: number;
  /** The Age field's seconds as the library reads them (toNumberOrZero), and when it came (ms): age() = ageValue + (now − came) / 1000. */
  readonly ageValue: number;
  readonly came: number;
  /** Its stale-while-revalidate (seconds, the library's reading), 0 for none. */
  readonly swr: number;
  /**
   * fields() with the Age value at `ageAt` still to set; undefined for one that came with a
   * Warning (the library's "113", which fields() takes out again, depends on the age): read afresh.
   */
  readonly fields: string[] | undefined;
  readonly ageAt: number;
  /**
   * evaluateRequest's matching of a request (its url, Host, method and Vary's fields), for a
   * request without Cache-Control or Pragma; undefined when the library reads it (a Vary not one
   * string, no stored request fields, a `must-revalidate` the freshness policy kept).
   */
  readonly match: RequestMatch | undefined;
}

/** What http-cache-semantics's _requestMatches compares a request with (the policy's u, h, m; Vary's names as it splits them). */
interface RequestMatch {
  readonly url: string | undefined;
  readonly host: string | undefined;
  readonly method: string | undefined;
  /** Vary's names, or undefined without a Vary; `reqh` the stored request's fields. */
  readonly vary: readonly string[] | undefined;
  readonly reqh: CachePolicy.Headers;
}

/** The library's toNumberOrZero: parseInt's number, 0 for none. */
function numberOrZero(value: unknown): number {
  const n = Number.parseInt(value as string, 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * One stored answer: its status, the upstream's own fields, its whole body, and the policy
 * (http-cache-semantics) that says, for each later request, whether it may be reused as it is,
 * after a revalidation, or in place of a failed upstream.
 */
export class StoredAnswer {
  readonly key: string;
  readonly status: number;
  readonly reason: string;
  readonly body: Buffer;
  /** The HTTP version the upstream answered in ("1.0", "1.1", "2"): the Via entry it goes out with (RFC 9110 §7.6.3). */
  readonly version: string;
  /** What the entry counts against the route's max_size: the body, the fields and a little bookkeeping. */
  #size: number;
  #policy: CachePolicy;
  /** Its freshness (freshness.ts): read from #policy, less what binds it once stale only. */
  #fresh: Freshness;
  /** Longest a stale answer may stand in for a failed upstream (seconds past its freshness). */
  #staleIfError: number;
  /** What the route grants (its stale_if_error cap, lifetimes, stale-while-revalidate): read again after a revalidation. */
  readonly #grants: CacheGrants;
  /** How long past its freshness it is kept (seconds): its stale-if-error window, or the cap for one a 304 may renew. */
  #keptStale: number;
  /** What a hit reads (HitView), made with the policy. */
  #hit: HitView;

  constructor(
    key: string,
    policy: CachePolicy,
    status: number,
    reason: string,
    body: Buffer,
    grants: CacheGrants,
    version = '1.1',
  ) {
    this.key = key;
    this.version = version;
    this.#policy = policy;
    this.#grants = grants;
    this.#fresh = freshnessOf(policy, grants);
    this.status = status;
    this.reason = reason;
    this.body = body;
    this.#size = sizeOf(body, policy);
    this.#staleIfError = staleIfErrorWindow(policy, this.#fresh, grants.staleIfError);
    this.#keptStale = keptStale(policy, this.#fresh, this.#staleIfError, grants.staleIfError);
    this.#hit = this.#hitView();
  }

  get policy(): CachePolicy {
    return this.#policy;
  }

  /** Bytes it counts against max_size: a 304's fields may change it (AnswerCache.revalidated counts them). */
  get size(): number {
    return this.#size;
  }

  /**
   * A 304 answered the validators this answer's revalidation sent: its fields update the stored
   * ones (not-modified-update.ts), and its freshness and stale-if-error window follow them (one
   * that says `no-store` or `private` ends its keeping: AnswerCache.revalidated). Nothing is
   * updated when the 304 names another representation (false).
   */
  revalidated(request: CacheRequest, notModified: CachePolicy.Headers): boolean {
    // One without Date is dated when it came (RFC 9110 §6.6.1), as an answer is: else the stored
    // Date, old, would stay, and the answer it renews would be as old as before (§4.2.3's apparent age).
    const dated = notModified.date === undefined ? withDate(notModified, Date.now()) : notModified;
    const fields = updatedFields(this.#policy.toObject().resh, dated);
    if (fields === undefined) return false;
    this.#policy = policyFrom(request, this.status, fields);
    this.#size = sizeOf(this.body, this.#policy);
    this.#fresh = freshnessOf(this.#policy, this.#grants);
    const cap = this.#grants.staleIfError;
    this.#staleIfError = staleIfErrorWindow(this.#policy, this.#fresh, cap);
    this.#keptStale = keptStale(this.#policy, this.#fresh, this.#staleIfError, cap);
    this.#hit = this.#hitView();
    return true;
  }

  /** The HitView of the policy now held: the library's readings, once. */
  #hitView(): HitView {
    const fresh = this.#fresh.policy;
    const stored = fresh.toObject();
    const lifetime = fresh.maxAge();
    const { resh, reqh } = stored;
    const vary = resh.vary;
    const match: RequestMatch | undefined =
      stored.rescc['must-revalidate'] ||
      (vary && (typeof vary !== 'string' || typeof reqh !== 'object' || reqh === null))
        ? undefined
        : {
            url: stored.u,
            host: stored.h,
            method: stored.m,
            vary: vary
              ? vary
                  .trim()
                  .toLowerCase()
                  .split(/\s*,\s*/)
              : undefined,
            reqh: reqh ?? {},
          };
    const own = this.#policy.toObject().resh;
    const fields = Object.hasOwn(own, 'warning') ? undefined : this.#fieldsRead();
    let ageAt = -1;
    if (fields !== undefined)
      for (let i = 0; i < fields.length && ageAt === -1; i += 2) if (fields[i] === 'age') ageAt = i + 1;
    return {
      lifetime,
      ageValue: numberOrZero(resh.age),
      came: stored.t,
      swr: numberOrZero(stored.rescc['stale-while-revalidate']),
      fields: ageAt === -1 ? undefined : fields,
      ageAt,
      match,
    };
  }

  /** Its age now (seconds, fractional), as the library's age() counts it. */
  #age(): number {
    const hit = this.#hit;
    return hit.ageValue + (Date.now() - hit.came) / 1000;
  }

  /** Seconds of freshness left (negative: stale for that long). */
  ttl(): number {
    return Math.round(this.#hit.lifetime - this.#age());
  }

  /** Still within its freshness lifetime (must-revalidate or not: freshness.ts). */
  fresh(): boolean {
    return !(this.#hit.lifetime <= this.#age());
  }

  /** A shared cache may keep it (mayKeep), with what the route grants read in (keptPolicy). */
  keepable(): boolean {
    return mayKeep(this.#fresh.policy);
  }

  /**
   * Its fields, as `request`'s revalidation (a 304, a HEAD's 200) updated them, are one user's
   * that nobody gave a lifetime (oneUsersUnsaid): that request's own answer would not have been
   * kept, and neither is what it brought into this one (a greeting, a user's field), which every
   * later hit would give the next user.
   */
  oneUsersNow(request: CacheRequest): boolean {
    return oneUsersUnsaid(request, this.status, this.#policy, this.#grants);
  }

  /** Whether it answers this request as it is: fresh, stale while it is refreshed, or not (freshness.ts). */
  reuse(request: CacheRequest): Reuse {
    const { match, lifetime, swr } = this.#hit;
    const { headers } = request;
    // A request with directives of its own is read by the library (freshness.ts's reuseOf).
    if (match === undefined || headers['cache-control'] !== undefined || headers.pragma !== undefined)
      return reuseOf(this.#fresh, request as CachePolicy.Request);
    // reuseOf's verdict for such a request, from the readings made once: fresh, or stale within
    // its stale-while-revalidate (unless bound to revalidate once stale), or none.
    if (!requestMatches(match, request)) return undefined;
    const age = this.#age();
    if (!(lifetime <= age)) return 'fresh';
    return swr > 0 && lifetime + swr > age && !this.#fresh.bound ? 'while-revalidating' : undefined;
  }

  /** The request names this answer's variant (the fields its Vary names have the stored values). */
  matches(request: CacheRequest): boolean {
    return varyMatches(this.#policy, request);
  }

  /**
   * Whether two requests ask for one variant as this answer's Vary reads them: each field it names
   * present in both or neither, with one value (a Vary of `*`, none). Without a Vary, any two.
   */
  sameVariant(a: CacheRequest, b: CacheRequest): boolean {
    const vary = this.#policy.toObject().resh.vary;
    if (vary === undefined) return true;
    for (const name of varyNames(vary)) {
      if (name === '') continue;
      if (name === '*' || Object.hasOwn(a.headers, name) !== Object.hasOwn(b.headers, name)) return false;
      if (String(a.headers[name] ?? '') !== String(b.headers[name] ?? '')) return false;
    }
    return true;
  }

  /**
   * The key an answer may be kept under, once the request's upstream answered: on a split route
   * a key names the side drawn (cacheKey), and a request that went to another side in the end (a
   * held request moves: proxy/session/request-hold.ts) brings that side's answer, which is not
   * kept as the drawn side's (undefined). A route without a split pays one lookup.
   */
  static keyOnItsSide(
    key: string | undefined,
    split: boolean,
    upstream: string | undefined,
  ): string | undefined {
    if (key === undefined || !split) return key;
    return key.endsWith(` ${upstream}`) ? key : undefined;
  }

  /**
   * Whether this answer may stand in for a failed upstream for this request now (RFC 5861 §4,
   * RFC 9111 §4.2.4): within its stale-if-error window, and not refused by the client's request.
   */
  servableOnError(request: CacheRequest): boolean {
    if (!varyMatches(this.#policy, request)) return false;
    const staleness = this.#age() - this.#hit.lifetime;
    return staleness < this.#staleIfError && !refusesStale(request.headers, staleness);
  }

  /** How long the entry may still be of use (ms): fresh, or kept past it (keptStale: the library's timeToLive counted its own stale-if-error, past the route's cap). */
  usefulFor(): number {
    return (this.#hit.lifetime - this.#age() + this.#keptStale) * 1000;
  }

  /**
   * The fields to send with the stored answer, in the order they came: hop-by-hop ones out, Age
   * brought up to date (flat). The library's copy of them (responseHeaders) skips every name its
   * plain table of hop-by-hop fields holds, Object's own among them: a field named `constructor`
   * or `__proto__` is not in it, so its stored value goes instead. Read once (HitView): a hit
   * copies them and sets its Age.
   */
  fields(): string[] {
    const { fields, ageAt } = this.#hit;
    if (fields === undefined) return this.#fieldsRead();
    const out = fields.slice();
    out[ageAt] = String(Math.round(this.#age()));
    return out;
  }

  /** fields() read through the library's responseHeaders(). */
  #fieldsRead(): string[] {
    const out: string[] = [];
    const { resh, t } = this.#policy.toObject();
    const headers = this.#policy.responseHeaders();
    // Date is when the origin made the answer (RFC 9110 §6.6.1), Age how long ago: the library
    // sets Date to now, which would make a stored answer look new to a client that reads Date.
    // One without Date gets the time it came (§6.6.1: a recipient that caches it records that).
    headers.date = resh.date ?? new Date(t).toUTCString();
    // An Age the upstream sent that is no number of seconds: the answer's time in the store.
    if (unreadableAge(resh)) headers.age = String(Math.round(this.#fresh.policy.age()));
    // RFC 9111 obsoletes Warning (§5.5): the library's "113" for a heuristic freshness over a
    // day is not sent; a warning the upstream made itself goes on.
    const warning = headers.warning;
    if (typeof warning === 'string' && warning.endsWith(HEURISTIC_WARNING)) {
      const own = warning.slice(0, -HEURISTIC_WARNING.length).replace(/,\s*$/, '');
      if (own === '') delete headers.warning;
      else headers.warning = own;
    }
    for (const name of Object.keys(resh)) {
      if (Object.hasOwn(headers, name)) pushField(out, name, headers[name]);
      else if (name in Object.prototype) pushField(out, name, resh[name]);
    }
    // What the library adds (Age, a Date the answer had none of).
    for (const name of Object.keys(headers))
      if (!Object.hasOwn(resh, name)) pushField(out, name, headers[name]);
    out.push('content-length', String(this.body.length));
    return out;
  }
}

/** http-cache-semantics's _requestMatches(request, false): the same url, Host and method, and the fields Vary names (a `*` none). */
function requestMatches(match: RequestMatch, request: CacheRequest): boolean {
  const { headers } = request;
  if (match.url && match.url !== request.url) return false;
  if (match.host !== headers.host) return false;
  if (request.method && match.method !== request.method) return false;
  if (match.vary === undefined) return true;
  for (const name of match.vary) {
    if (name === '*') return false;
    const asked = Object.hasOwn(headers, name) && headers[name];
    const kept = Object.hasOwn(match.reqh, name) && match.reqh[name];
    if (asked !== kept) return false;
  }
  return true;
}

/**
 * What an entry keeps beside its body and its fields' text: the parsed policy and its header
 * objects, the entry, its views, its key and its place in the store's map. Measured at 1.3 to
 * 1.6 KiB of heap an answer (test/proxy/cache/memory-bound.test.ts); counted as 256 bytes, a
 * route of small answers held three times its max_size.
 */
const ENTRY_BOOKKEEPING = 2048;

/** What an answer counts against max_size: the body, the fields (as the policy holds them) and ENTRY_BOOKKEEPING. */
function sizeOf(body: Buffer, policy: CachePolicy): number {
  return body.length + JSON.stringify(policy.toObject()).length + ENTRY_BOOKKEEPING;
}

/**
 * A stored field's value(s) onto a flat list; its length and framing are the stored answer's own,
 * and a Proxy-Status it came with told how the intermediaries behind handled the exchange that
 * fetched it (RFC 9209), such as a cache behind giving its stored answer for a failed origin:
 * not how they handled this request, which none of them met.
 */
function pushField(out: string[], name: string, value: string | string[] | undefined): void {
  if (
    value === undefined ||
    name === 'content-length' ||
    name === 'transfer-encoding' ||
    name === 'proxy-status'
  )
    return;
  if (Array.isArray(value)) for (const v of value) out.push(name, v);
  else out.push(name, value);
}

/**
 * The request's fields as the library is to read them: a Cache-Control whose quoted arguments hold
 * separators with those out of the way (outsideQuotes), since the library parts its directives at
 * every comma (`ext="a, no-store, b"` kept nothing). The same fields for every other request.
 */
function readableAsked(headers: CacheRequest['headers']): CachePolicy.Headers {
  const cc = headers['cache-control'];
  if (typeof cc !== 'string' || !cc.includes('"')) return headers as CachePolicy.Headers;
  // A map of fields has no prototype (a field named `constructor` is a field).
  return Object.assign(Object.create(null), headers, { 'cache-control': outsideQuotes(cc) });
}

/** The policy http-cache-semantics makes of a request and the upstream's answer to it. */
export function policyOf(request: CacheRequest, status: number, fields: readonly string[]): CachePolicy {
  return policyFrom(request, status, headersOf(fields));
}

function policyFrom(request: CacheRequest, status: number, headers: CachePolicy.Headers): CachePolicy {
  const asked = { method: request.method, url: request.url, headers: readableAsked(request.headers) };
  const made = new CachePolicy(asked, { status, headers: withReadableAge(headers) }, SHARED);
  // Authenticated, it is read as a request with Authorization (the library's `a`: none), kept only
  // as §3.5 allows (freshness.ts reads the allowance); its fields stay its own, which Vary compares.
  const read = request.authenticated ? CachePolicy.fromObject({ ...made.toObject(), a: false }) : made;
  return keepingVariedFields(agedFromAsking(caseless(read), request.askedAt));
}

/**
 * The policy with, of the request's fields, only those its Vary names: the library keeps them
 * all when the answer has a Vary (a client's Cookie and Authorization too, which a file of
 * `cache.dir` would then hold), and only those it names are compared with later requests.
 */
function keepingVariedFields(policy: CachePolicy): CachePolicy {
  const stored = policy.toObject();
  const { reqh } = stored;
  if (reqh === null || reqh === undefined) return policy;
  // No prototype: a Vary naming `__proto__` keeps that field, not a property already there.
  const kept: CachePolicy.Headers = Object.create(null);
  for (const name of varyNames(stored.resh.vary)) if (Object.hasOwn(reqh, name)) kept[name] = reqh[name];
  return CachePolicy.fromObject({ ...stored, reqh: kept });
}

/**
 * Flat [name, value, …] fields as the object http-cache-semantics reads (repeated fields joined,
 * Set-Cookie kept apart). The object has no prototype: a field named `constructor` or `__proto__`
 * is a field, not a property already there (it was joined to Object's constructor, or lost).
 */
export function headersOf(fields: readonly string[]): CachePolicy.Headers {
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    const value = fields[i + 1];
    const seen = out[name];
    if (name === 'set-cookie') out[name] = Array.isArray(seen) ? [...seen, value] : [value];
    else out[name] = seen === undefined ? value : `${seen}, ${value}`;
  }
  return out;
}

/**
 * The answer's stale-if-error window (seconds): its own `stale-if-error`, never more than the
 * route's cap; the cap alone when it names none (the route's config is the out-of-band
 * contract RFC 9111 §4.2.4 allows). None when the answer forbids serving it stale at all
 * (`must-revalidate`, `proxy-revalidate`, `s-maxage` for a shared cache, `no-cache`: `bound`).
 */
function staleIfErrorWindow(policy: CachePolicy, { bound }: Freshness, capMs: number): number {
  const directives = policy.toObject().rescc;
  if (bound) return 0;
  const cap = capMs / 1000;
  // Only delta-seconds count (RFC 5861 §4), as on a request (stale-refusal.ts): the library
  // gives a bare `stale-if-error` as true and `stale-if-error=` as '', which Number() made 1 s
  // and 0 s; a directive that names no number of seconds says nothing, and the cap stands.
  const own = String(directives['stale-if-error']).replace(/^"(.*)"$/, '$1');
  return /^\d+$/.test(own) ? Math.min(Number(own), cap) : cap;
}

/**
 * How long past its freshness an answer is kept (seconds): one with a validator (ETag,
 * Last-Modified) for the route's cap, so that its revalidation is a 304, not the whole body again
 * (an answer that may never be given stale, `no-cache` or `must-revalidate`, is one that is
 * revalidated); one without, for its stale-if-error window; and within its stale-while-revalidate
 * (its own or the route's), where it is given (not once bound to revalidate: freshness.ts).
 */
function keptStale(policy: CachePolicy, fresh: Freshness, staleIfError: number, capMs: number): number {
  const { resh } = policy.toObject();
  const own = resh.etag !== undefined || resh['last-modified'] !== undefined ? capMs / 1000 : staleIfError;
  const swr = fresh.bound ? 0 : Number(fresh.policy.toObject().rescc['stale-while-revalidate']);
  return Math.max(own, Number.isFinite(swr) ? swr : 0);
}

/**
 * Whether a shared cache may keep this answer (RFC 9111 §3): the library's rules, and never
 * one that sets a cookie (one client's: nginx and Varnish do not store it either), nor one
 * whose Vary has "*" (it matches no later request, §4.1: kept, it would only take room).
 */
export function mayKeep(policy: CachePolicy): boolean {
  const { resh } = policy.toObject();
  if (!policy.storable() || resh['set-cookie'] !== undefined) return false;
  return resh.vary === undefined || !varyNames(resh.vary).includes('*');
}

/**
 * The policy to store a GET's answer under, when it may be kept: not a 206 (a part is not the
 * answer), what mayKeep allows (of its freshness with what the route grants: a lifetime makes a
 * 302 or a 303 storable, which a cache keeps only with an explicit one), and no larger than
 * `maxEntry` by its Content-Length.
 */
export function keptPolicy(
  request: CacheRequest,
  status: number,
  fields: readonly string[],
  maxEntry: number,
  grants: CacheGrants,
): CachePolicy | undefined {
  // A private or no-store answer is never kept (mayKeep): known from its Cache-Control alone.
  if (status === 206 || forbidsSharedStore(fields)) return undefined;
  const policy = policyOf(request, status, fields);
  if (unsaidEventStream(policy)) return undefined;
  if (!mayKeep(freshnessOf(policy, grants).policy)) return undefined;
  if (oneUsersUnsaid(request, status, policy, grants)) return undefined;
  return Number(policy.toObject().resh['content-length'] ?? 0) > maxEntry ? undefined : policy;
}

/**
 * A server-sent event stream (`text/event-stream`) its origin gave no lifetime of its own
 * (`max-age`, `s-maxage`, `Expires`, above 0), or asked to be revalidated each time (`no-cache`, what SSE
 * servers send): a live feed, each subscriber's own. Kept (by the route's `lifetimes`, or to be
 * revalidated), its fetch held every other subscriber silent until the stream ended or
 * `lock_timeout` passed (request coalescing), and what was kept replayed old events to the next.
 * Not kept, the waiters go upstream at its head, each to a stream of its own.
 */
function unsaidEventStream(policy: CachePolicy): boolean {
  const { resh, rescc } = policy.toObject();
  const type = String(resh['content-type'] ?? '')
    .trim()
    .toLowerCase();
  if (!type.startsWith('text/event-stream')) return false;
  if ('no-cache' in rescc) return true;
  // A lifetime of 0 (`max-age=0`, an `Expires` already past) is one to revalidate each time too.
  return !('max-age' in rescc || 's-maxage' in rescc || resh.expires !== undefined) || policy.maxAge() <= 0;
}

/**
 * An answer to a request with a Cookie that nobody gave a lifetime: neither the origin (no
 * `max-age`, `s-maxage`, `Expires`, nor `public`) nor the route (`lifetimes` for its status), and
 * that does not vary on the Cookie. It is likely one user's page from an app that marks it for no
 * cache, never thinking one stands in front (Django, Flask, Express and Go send none by default):
 * kept, it was the next user's, at once when its Last-Modified made it heuristically fresh, or in
 * place of the upstream's 5xx (stale_if_error). RFC 9111 lets a cache decline to store (§3) and
 * makes the heuristic a MAY (§4.2.2); nginx's proxy_cache keeps no answer without an explicit
 * lifetime, and Varnish passes a request with a Cookie.
 */
function oneUsersUnsaid(
  request: CacheRequest,
  status: number,
  policy: CachePolicy,
  grants: CacheGrants,
): boolean {
  if (request.headers.cookie === undefined || grants.lifetimes[status] !== undefined) return false;
  const { resh, rescc } = policy.toObject();
  if ('max-age' in rescc || 's-maxage' in rescc || 'public' in rescc || resh.expires !== undefined)
    return false;
  return !varyNames(resh.vary).includes('cookie');
}

/**
 * The fields the stored answer's Vary names have the same values in this request (RFC 9111 §4.1),
 * and a field absent from the one is absent from the other: `X-Foo:`, empty, is not no X-Foo.
 */
function varyMatches(policy: CachePolicy, request: CacheRequest): boolean {
  const stored = policy.toObject();
  const vary = stored.resh.vary;
  if (vary === undefined) return true;
  const { headers } = request;
  const reqh = stored.reqh ?? {};
  for (const name of varyNames(vary)) {
    if (name === '') continue;
    if (name === '*' || Object.hasOwn(reqh, name) !== Object.hasOwn(headers, name)) return false;
    if (String(reqh[name] ?? '') !== String(headers[name] ?? '')) return false;
  }
  return true;
}
