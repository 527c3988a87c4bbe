import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { failureProxyStatus, receivedStatusProxyStatus } from '../../core/failure/proxy-status.ts';
import { hasBody } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { Admitted } from '../admit/admit-request.ts';
import {
  type ForwardReason,
  forwardedStatus,
  hitStatus,
  revalidatedStatus,
  revalidatingStatus,
  staleStatus,
} from '../cache/cache-status.ts';
import { invalidatedKeys, methodOverride } from '../cache/invalidation.ts';
import { refreshExchange } from '../cache/refresh-exchange.ts';
import { conditional, forwardReason, onlyIfCached, validatorsOf } from '../cache/request-directives.ts';
import type { Fill, FillEnd, ResponseCache } from '../cache/response-cache.ts';
import { type CacheRequest, cacheKey, headersOf, keptPolicy, StoredAnswer } from '../cache/stored-answer.ts';
import { type BodyCopy, boundedCopy, type ResponseStore } from '../forward/response-store.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import { type CacheAttempts, cacheRequestOf, passedOn } from './cache-request.ts';
import type { SessionRequest } from './session-request.ts';
import { sendStored } from './stored-response.ts';

/** The upstream's own statuses a stored answer may stand in for (RFC 5861 §4: 500, 502, 503, 504). */
const STALE_FOR_STATUS = new Set([500, 502, 503, 504]);

/** The gateway's own 503s a stored answer may stand in for: nothing could be tried (no target, a full pool, no descriptor or port). */
const STALE_FOR_GATEWAY = new Set([
  'destination_unavailable',
  'connection_limit_reached',
  'proxy_resources_exhausted',
]);

/**
 * A request's way through its route's cache (RFC 9111, with http-cache-semantics for the
 * semantics): a fresh stored answer is given at once (no upstream, no attempt); concurrent
 * misses of one key wait for the first one's fetch (coalescing); a stale answer is revalidated
 * with its validators; the upstream's answer is copied as it streams to the client and stored
 * when whole; and when the upstream fails, a stored answer within its stale-if-error window is
 * given instead, saying so (Cache-Status fwd=stale, Proxy-Status naming the failure). Every
 * answer of the route carries Cache-Status.
 */
export class CacheRun implements ResponseStore {
  readonly #req: SessionRequest;
  readonly #owner: AttemptsOwner;
  readonly #cache: ResponseCache;
  readonly #route: RouteConfig;
  /** The Cache-Status of what goes out now (forwarded until the cache gives an answer of its own). */
  #status: string;
  #key: string | undefined;
  #request: CacheRequest | undefined;
  /** The stored answer validators were sent for (a 304 confirms it). */
  #validating: StoredAnswer | undefined;
  /** This request fetches its key for the others waiting on it: call when the fetch is over. */
  #endFill: ((end?: FillEnd) => void) | undefined;
  /** How this request's fetch failed, for those waiting on it (set where a failure is answered). */
  #fetchEnd: FillEnd;
  /** The attempts' end with a failure (a fetch waited for failed: its failure is this request's). */
  #fail: ((failure: Failure) => void) | undefined;
  /** When this request stops waiting for another's fetch (lock_timeout from its first wait). */
  #lockEnd = 0;
  validators: readonly string[] = [];
  /** The keys an unsafe method's success invalidates (invalidation.ts). */
  #invalidated: readonly string[] = [];
  /** The shared disk was read for this request's key (once). */
  #diskRead = false;

  private constructor(req: SessionRequest, owner: AttemptsOwner, cache: ResponseCache, route: RouteConfig) {
    this.#req = req;
    this.#owner = owner;
    this.#cache = cache;
    this.#route = route;
    const { runtime, record } = req;
    this.#status = forwardedStatus(runtime.name, 'bypass');
    record.cache = 'fwd=bypass';
    // Counted once, by what the cache did in the end (a forwarded request may end stale).
    req.response.onClose(() => runtime.metrics.cacheLookup(route.name, record.cache as string));
  }

  /** The route's cache run for this request; undefined when the route has no cache (nothing else is paid). */
  static of(req: SessionRequest, owner: AttemptsOwner, route: RouteConfig): CacheRun | undefined {
    const cache = route.cache === undefined ? undefined : req.runtime.caches.get(route.name);
    return cache === undefined ? undefined : new CacheRun(req, owner, cache, route);
  }

  /** The route's response edit with this request's Cache-Status after it (RFC 9211: on every answer). */
  edit(base: AnswerEdit | undefined): AnswerEdit {
    return (headers) => {
      const out = base === undefined ? [...headers] : base(headers);
      out.push('cache-status', this.#status);
      return out;
    };
  }

  /** Route and admit passed: answer from the store, wait for the key's fetch under way, or forward (start the attempts). */
  start(admitted: Admitted, attempts: CacheAttempts): void {
    const forward = () => attempts.start();
    this.#fail = (failure) => attempts.end(failure);
    const { head, fields, runtime, listener } = this.#req;
    // The scheme the upstream is told: the listener's, or a trusted proxy's word (request-scheme.ts).
    const scheme = listener.protocol;
    const split = runtime.splits.get(this.#route.name);
    this.#invalidated = invalidatedKeys(head.method, admitted, scheme, split?.sides, fields);
    if (head.method !== 'GET' && head.method !== 'HEAD') return this.#forward('method', forward);
    // An upgrade, a body, another method by override (an upstream honouring it answers that) are not what a stored answer answers.
    if (methodOverride(fields) !== undefined) return this.#forward('bypass', forward, 'method-override');
    if (head.upgrade || hasBody(head)) return this.#forward('bypass', forward);
    const side = split === undefined ? undefined : admitted.upstream.name;
    this.#key = cacheKey(admitted.authority, admitted.upstreamPath, scheme, side);
    this.#request = cacheRequestOf(attempts.sends.headers, fields, admitted, scheme);
    // A range, If-Match, If-Unmodified-Since go upstream; a whole stored answer may stand in if it fails.
    if (passedOn(fields)) return this.#forward('bypass', forward);
    this.#lookup(forward, false);
  }

  #lookup(forward: () => void, waited: boolean): void {
    const key = this.#key as string;
    const request = this.#request as CacheRequest;
    const stored = this.#cache.get(key);
    // A miss in memory may be on the disk the workers share: read once, then look again.
    const disk = this.#cache.disk;
    if (stored === undefined && disk !== undefined && !this.#diskRead) {
      this.#diskRead = true;
      // A purge or an invalidation while the file is read: what it read is of before it (set refuses it).
      const since = performance.now();
      const again = (found: StoredAnswer | undefined) => {
        if (found !== undefined && this.#cache.get(key) === undefined) this.#cache.set(found, true, since);
        if (!this.#req.response.closed) this.#lookup(forward, waited);
      };
      disk
        .read(key)
        .then(again, () => again(undefined))
        // A bug must cost one request a 500, never the process (as in the session's run).
        .catch((err) =>
          this.#owner.answer(
            new Failure('proxy_internal_error', 'internal error while reading the cache', { cause: err }),
          ),
        );
      return;
    }
    const reuse = stored?.reuse(request);
    // A background refresh is the key's fetch: it goes upstream (unless another request stored a fresh answer meanwhile).
    const refresh = this.#req.exchange.refresh;
    if (stored !== undefined && reuse !== undefined) {
      const hit = hitStatus(this.#req.runtime.name, stored.ttl(), waited);
      if (reuse === 'fresh') return this.#give(stored, hit, waited ? 'collapsed' : 'hit');
      // Within stale-while-revalidate: given at once, and refreshed in the background, once
      // (none while a fetch of the key is under way: its answer is the refresh).
      if (refresh === undefined) {
        if (this.#cache.fillOf(key) === undefined) this.#refresh(key);
        return this.#give(stored, revalidatingStatus(this.#req.runtime.name, stored.ttl()), 'stale');
      }
    }
    if (refresh !== undefined) this.#endFill = refresh;
    const fill = waited || refresh !== undefined ? undefined : this.#cache.fillOf(key);
    if (fill !== undefined && !onlyIfCached(this.#req.fields, refresh) && this.#wait(fill, forward)) return;
    const reason = forwardReason(stored, request);
    if (stored !== undefined && (reason === 'stale' || reason === 'request') && !conditional(request)) {
      this.#validating = stored;
      this.validators = validatorsOf(stored, request);
    }
    // The first miss of a key fetches it, the others wait for it (for another, if its client leaves).
    if (this.#req.head.method === 'GET' && this.#cache.fillOf(key) === undefined) {
      this.#endFill = this.#cache.startFill(key);
      this.#req.response.onClose((finished) =>
        this.#endFill?.(this.#fetchEnd ?? (finished ? undefined : 'lead')),
      );
    }
    this.#forward(reason, forward);
  }

  /** The key's fetch starts here (those meanwhile get the stale answer too), made by a request of the gateway's own. */
  #refresh(key: string): void {
    const done = this.#cache.startFill(key);
    this.#owner.background(refreshExchange(this.#req.head, done, this.#req.record.upstream));
  }

  /** Waits for the fetch under way (bounded by lock_timeout and the client's patience); false when it cannot. */
  #wait(fill: Fill, forward: () => void): boolean {
    const { response } = this.#req;
    let timer: NodeJS.Timeout | undefined;
    const stop = fill.wait((end) => {
      clearTimeout(timer);
      if (!response.closed) this.#woken(end, forward);
    });
    if (stop === undefined) return false;
    if (this.#lockEnd === 0) this.#lockEnd = Date.now() + this.#cache.config.lockTimeout;
    timer = setTimeout(() => {
      stop();
      if (!response.closed) this.#lookup(forward, true);
    }, this.#lockEnd - Date.now());
    response.onClose(() => {
      clearTimeout(timer);
      stop();
    });
    return true;
  }

  /** The fetch waited for is over: look again; its client left (one waiting fetches); or its failure is this one's too. */
  #woken(end: FillEnd, forward: () => void): void {
    if (end === undefined || end === 'lead') return this.#lookup(forward, end === undefined);
    const stored = this.#cache.get(this.#key as string);
    const reason = forwardReason(stored, this.#request as CacheRequest);
    this.#status = `${forwardedStatus(this.#req.runtime.name, reason)}; collapsed`;
    this.#req.record.cache = `fwd=${reason}; collapsed`;
    if (end instanceof Failure) return this.#fail?.(end);
    (this.#staleFor(end) ?? (() => this.#lookup(forward, true)))();
  }

  #forward(reason: ForwardReason, forward: () => void, detail?: string): void {
    if (onlyIfCached(this.#req.fields, this.#req.exchange.refresh)) return this.#notStored();
    this.#status = forwardedStatus(this.#req.runtime.name, reason, detail);
    this.#req.record.cache = `fwd=${reason}`;
    forward();
  }

  /** only-if-cached, and nothing stored may answer: the gateway's own 504, the upstream not contacted. */
  #notStored(): void {
    this.#status = `${this.#req.runtime.name}; detail="only-if-cached"`;
    this.#req.record.cache = 'only-if-cached';
    const details =
      'the client asked for a stored answer only (Cache-Control: only-if-cached), and none could be given';
    this.#owner.answer(new Failure('only_if_cached', details));
  }

  // ── what the forward step asks (ResponseStore) ───────────────────────────────────

  insteadOf(status: number, fields: readonly string[]): (() => void) | undefined {
    const request = this.#request as CacheRequest;
    const validating = this.#validating;
    // A 304 to the client's own validators goes to it as it is, and freshens the stored answer it names.
    const key = StoredAnswer.keyOnItsSide(this.#key, this.#req, this.#route.name);
    if (status === 304 && validating === undefined) this.#cache.notModifiedRelayed(key, request, fields);
    if (status === 304 && validating !== undefined) {
      // One naming another representation updates nothing: the stored answer goes as it stands.
      const cookies = this.#cache.revalidated(validating, request, headersOf(fields));
      return () => {
        this.#endFill?.(undefined);
        const said = revalidatedStatus(this.#status, validating.ttl());
        this.#give(validating, said, 'revalidated', undefined, cookies);
      };
    }
    if (!STALE_FOR_STATUS.has(status) || this.#req.exchange.refresh) return undefined;
    return this.#staleFor(status);
  }

  /** The stored answer standing in for the upstream's own 5xx (as a thunk that gives it); undefined when none may. */
  #staleFor(status: number): (() => void) | undefined {
    const stored = this.staleAnswer();
    if (stored === undefined) return undefined;
    this.#fetchEnd = status;
    const { runtime } = this.#req;
    return () =>
      this.#giveStale(
        stored,
        `upstream_${status}`,
        staleStatus(runtime.name, status, stored.ttl(), undefined),
        // errors.detail: minimal keeps the upstream's name out, as on the answers it relays.
        receivedStatusProxyStatus(
          runtime.name,
          status,
          runtime.config.errors.detail === 'minimal' ? undefined : (this.#owner.nextHop() as string),
        ),
      );
  }

  keep(status: number, reason: string, fields: readonly string[], version: string): BodyCopy | undefined {
    if (status < 400) this.#cache.invalidateAll(this.#invalidated, this.#req.runtime.announce);
    const request = this.#request;
    const key = StoredAnswer.keyOnItsSide(this.#key, this.#req, this.#route.name);
    const { config } = this.#cache;
    const method = this.#req.head.method;
    if (method === 'HEAD' && status === 200) this.#cache.headAnswered(key, request, fields);
    const policy =
      request === undefined || method !== 'GET'
        ? undefined
        : keptPolicy(request, status, fields, config.maxEntry, config);
    // One not stored frees those waiting now (each goes upstream), and may supersede the stale one stored: a
    // HEAD's too, whose status is its GET's (RFC 9110 §9.3.2; a HEAD's 200 is headAnswered's; another method has no key).
    if (policy === undefined || key === undefined) {
      if (method === 'GET' || status !== 200)
        this.#cache.superseded(key, request, status, fields, this.#req.runtime.announce);
      return void this.#endFill?.(undefined);
    }
    const since = this.#req.record.startedAt;
    const stored = (body: Buffer | undefined) => {
      const answer = body && new StoredAnswer(key, policy, status, reason, body, config, version);
      // Not kept when a purge of its key came since the request did (ResponseCache.set).
      if (answer !== undefined) this.#cache.set(answer, false, since);
      else this.#cache.superseded(key, request, status, fields, this.#req.runtime.announce);
      this.#endFill?.(undefined);
    };
    // Within the room the route's copies in flight share; a body cut short gives back its part at the close.
    const copy = boundedCopy(config.maxEntry, stored, this.#cache.copies);
    this.#req.response.onClose(copy.release);
    return copy;
  }

  // ── stale on error ───────────────────────────────────────────────────────────────

  /**
   * The attempts ended with this failure: a stored answer within its stale-if-error window
   * goes out instead, with Age, Cache-Status fwd=stale and Proxy-Status naming the failure. False when
   * none may, the failure is the client's own, or a background refresh, which answers nobody, failed.
   */
  answerStale(failure: Failure): boolean {
    const shape = failure.kind.shape;
    if (shape === 'client' || shape === 'internal' || failure.clientsOwn || this.#req.exchange.refresh)
      return false;
    if (shape === 'gateway' && !STALE_FOR_GATEWAY.has(failure.type)) return false;
    this.#fetchEnd = failure;
    const stored = this.staleAnswer();
    if (stored === undefined) return false;
    const { runtime } = this.#req;
    const nextHop = this.#owner.nextHop();
    this.#giveStale(
      stored,
      failure.type,
      staleStatus(runtime.name, failure.status, stored.ttl(), failure.type),
      failureProxyStatus(runtime.name, failure, nextHop, runtime.config.errors.detail === 'minimal'),
    );
    return true;
  }

  /** The stored answer that may stand in for a failed upstream now (the latest: another request may have stored it); a hold asks too (heldBytes). */
  staleAnswer(): StoredAnswer | undefined {
    const key = this.#key;
    const request = this.#request;
    if (key === undefined || request === undefined || this.#req.record.grpc) return undefined;
    const stored = this.#cache.get(key);
    return stored?.servableOnError(request) ? stored : undefined;
  }

  #giveStale(stored: StoredAnswer, cause: string, status: string, proxyStatus: string): void {
    this.#req.record.staleCause = cause;
    this.#req.runtime.metrics.cacheStale(this.#route.name, cause);
    this.#endFill?.(this.#fetchEnd);
    this.#give(stored, status, 'stale', proxyStatus);
  }

  /** A stored answer goes out: through the one head builder, Age up to date, this answer's Cache-Status. */
  #give(stored: StoredAnswer, status: string, result: string, proxy?: string, cookies?: string[]): void {
    this.#status = status;
    this.#req.record.cache = result;
    sendStored(this.#req, this.#owner, this.#route.compression, stored, proxy, cookies);
  }
}
