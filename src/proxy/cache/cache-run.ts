import { Failure } from '../../core/failure/failure.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { keptFields } from '../stages/gateway-fields.ts';
import type {
  BeforeAttemptsVerdict,
  BodyCopy,
  ForwardedRequest,
  HeadVerdict,
  RelayedHead,
  StageAnswer,
  StageRequest,
  UpstreamAnswerHead,
} from '../stages/stage.ts';
import { readShared, refreshOnce, storedMeanwhile } from './across-workers.ts';
import { boundedCopy } from './body-copy.ts';
import { cacheKey } from './cache-key.ts';
import { asksForPart, bypassesStore, cacheRequestOf, fetchesWhole } from './cache-request.ts';
import {
  type ForwardReason,
  forwardedStatus,
  revalidatedStatus,
  revalidatingStatus,
  storedStatus,
} from './cache-status.ts';
import type { DiskStore } from './disk-store.ts';
import type { Fill, FillEnd } from './fill.ts';
import { endNote, endOfNote } from './fill-end-note.ts';
import { shareFill } from './fill-file.ts';
import { followedPart } from './fill-follow.ts';
import { type FillStream, streamedCopy, streamOf } from './fill-stream.ts';
import { FillWait } from './fill-wait.ts';
import { forwardedKeyPart } from './forwarded-key.ts';
import type { CachedRoute } from './passing-run.ts';
import { dropRefresh, isFill, unkeptRefresh } from './refresh-exchange.ts';
import {
  conditional,
  forwardReason,
  onlyIfCached,
  sameValidators,
  validatorsOf,
} from './request-directives.ts';
import { STALE_FOR_STATUS, StaleOnErrorRun } from './stale-on-error.ts';
import { type CacheRequest, headersOf, keptPolicy, StoredAnswer } from './stored-answer.ts';

/**
 * A GET's or a HEAD's way through its route's cache (RFC 9111, with http-cache-semantics for the
 * semantics), as the cache stage's hooks: a fresh stored answer is given at once (no upstream, no
 * attempt: onForward); concurrent misses of one key wait for the first one's fetch (coalescing:
 * fill-wait.ts), a Range only for its whole answer's head, then given its part as it streams in (fill-follow.ts);
 * a stale answer is revalidated with its validators; the upstream's answer is copied as it
 * streams to the client and stored when whole (onRelayed); and when the upstream fails, a stored
 * answer within its stale-if-error window is given instead, saying so (Cache-Status fwd=stale,
 * Proxy-Status naming the failure: onUpstreamHead for its 5xx, onFailure for the gateway's).
 */
export class CacheRun extends StaleOnErrorRun {
  /** What every attempt sends (onForward's), where the stored answer's validators go. */
  #sent: ForwardedRequest | undefined;
  /** The stored answer validators were sent for (a 304 confirms it). */
  #validating: StoredAnswer | undefined;
  /** This request started its key's fetch: it ends it when its response closes, whatever happened. */
  #filling = false;
  /** When this request stops waiting for another's fetch (lock_timeout from its first wait). */
  #lockEnd = 0;
  /** It took over (or tried to) a lock whose worker was killed mid-fetch (#fillAcross): once. */
  #tookOver = false;
  /** It waited, after another variant's fetch, for the fetch of its own (#fillOfItsVariant): once. */
  #waitedForVariant = false;
  /** It took the key's lock again for its own variant, after a fetch of another's (#lockAgainForVariant): once. */
  #lockedForVariant = false;
  /** The shared disk was read for this request's key (once). */
  #diskRead = false;
  /** Why it would have gone upstream when it began to wait for another's fetch, here or in another worker (its fwd). */
  #waitedAs: ForwardReason = 'uri-miss';
  /** Its wait for another request's fetch (fill-wait.ts), made at its first; let go when the response closes. */
  #wait: FillWait | undefined;
  /** The room of this request's body copy, given back when the response closes (a body cut short). */
  #release: (() => void) | undefined;
  /** A Range's fill: its answer as it streams in, for the Ranges waiting on it (cut if it stops short). */
  #stream: FillStream | undefined;

  constructor(route: CachedRoute, request: StageRequest) {
    super(route, request, 'bypass');
  }

  /** Route, admit and the stages passed: answer from the store, wait for the key's fetch under way, or forward. */
  override onForward(sent: ForwardedRequest): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    this.invalidatedBy(sent);
    const { fields, listener } = this.request;
    // The scheme the upstream is told: the listener's, or a trusted proxy's word (request-scheme.ts).
    const scheme = listener.protocol;
    const side = this.route.split === undefined ? undefined : sent.upstream;
    const forwarded = forwardedKeyPart(sent.headers, sent.authority, scheme);
    this.key = cacheKey(sent.authority, sent.path, scheme, side, forwarded);
    this.cacheRequest = cacheRequestOf(sent, fields, scheme, this, this.route.authenticates);
    this.#sent = sent;
    // A HEAD's Range means nothing (RFC 9110 §14.2): its miss, as its hit, is the whole answer's head.
    if (this.request.head.method === 'HEAD') sent.dropFields(['range', 'if-range']);
    // If-Match, If-Unmodified-Since go upstream; a whole stored answer may stand in if it fails.
    if (bypassesStore(fields)) return this.forward('bypass');
    return this.#lookup(false);
  }

  #lookup(waited: boolean): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    const key = this.key as string;
    const request = this.cacheRequest as CacheRequest;
    const { cache } = this.route;
    const stored = cache.get(key);
    // A miss in memory may be on the disk the workers share: read once, then look again.
    const disk = cache.disk;
    if (stored === undefined && disk !== undefined && !this.#diskRead) {
      this.#diskRead = true;
      return (
        readShared(cache, disk, key)
          // The client left meanwhile: nothing goes on (the session finds its response closed).
          .then(() => (this.request.closed ? undefined : this.#lookup(waited)))
          .catch(cacheBug)
      );
    }
    const reuse = stored?.reuse(request);
    // A background refresh is the key's fetch: it goes upstream (unless another request stored a fresh answer meanwhile).
    const { refresh } = this;
    if (stored !== undefined && reuse !== undefined) {
      const given = storedStatus(this.route.gateway, stored.ttl(), waited ? this.#waitedAs : undefined);
      if (reuse === 'fresh') return this.give(stored, given, waited ? 'collapsed' : 'hit');
      // Within stale-while-revalidate: given at once, and refreshed in the background, once
      // (none while a fetch of the key is under way: its answer is the refresh).
      if (refresh === undefined) {
        if (cache.fillOf(key) === undefined) refreshOnce(this.route, this.request, key, request);
        return this.give(stored, revalidatingStatus(this.route.gateway, stored.ttl()), 'stale');
      }
    }
    if (refresh !== undefined) this.endFill = refresh;
    const reason = forwardReason(stored, request);
    const fill =
      refresh !== undefined ? undefined : waited ? this.#fillOfItsVariant(stored, reason) : cache.fillOf(key);
    if (!waited) this.#waitedAs = reason;
    if (fill !== undefined && !onlyIfCached(this.request.fields, refresh)) {
      const woken = this.#waitFor(fill);
      if (woken !== undefined) return woken;
    }
    // A Range that finds nothing stored: the whole answer is fetched to be stored (nginx's
    // proxy_cache does so), and this request waits for it to be given its part from the store.
    const whole = fetchesWhole(this.request, reason) && !cache.unkept.has(key);
    if (!waited && refresh === undefined && fill === undefined && whole) {
      refreshOnce(this.route, this.request, key, request, 'fill');
      const started = cache.fillOf(key);
      const woken = started === undefined ? undefined : this.#waitFor(started);
      if (woken !== undefined) return woken;
    }
    this.#validate(stored, reason, request);
    // The first miss of a key fetches it, the others wait for it (for another, if its client
    // leaves); in every worker, when they share a disk: the first of its first misses.
    // Not a client's conditional with nothing of its variant stored: its answer (likely a 304
    // for its own copy) is none the others can be given, and, waiting for it, each of them went
    // upstream after it; the first of them fetches for the rest. With a stale answer of its
    // variant stored, its 304 freshens that answer for them (notModifiedRelayed): it fetches.
    const { method } = this.request.head;
    const fetchesForOthers = !conditional(request) || (reason !== 'uri-miss' && reason !== 'vary-miss');
    if (
      method === 'GET' &&
      fetchesForOthers &&
      !asksForPart(this.request.fields, method) &&
      cache.fillOf(key) === undefined
    ) {
      this.endFill = cache.startFill(key, request);
      this.#filling = true;
      // One asking only for what is stored (only-if-cached) waits for no other worker's fetch.
      // After a fetch of another variant's, its own may be what another worker fetches now.
      if (
        disk !== undefined &&
        (!waited || this.#lockAgainForVariant(reason)) &&
        !onlyIfCached(this.request.fields, refresh)
      )
        return this.#fillAcross(disk).catch(cacheBug);
    }
    return this.forward(reason);
  }

  /**
   * This worker's fetch of the key, as the workers' one (fill-lock.ts): it goes upstream holding
   * the key's lock, let go once the answer (or its failure) is written; or, another worker
   * fetching it, it waits for that (within lock_timeout) and reads what that stored: a fresh
   * answer is a hit (`collapsed`) for it and this worker's requests that waited on it, that
   * fetch's failure theirs too; else (an answer not kept) it fetches for them.
   */
  async #fillAcross(disk: DiskStore): Promise<BeforeAttemptsVerdict> {
    const key = this.key as string;
    const request = this.cacheRequest as CacheRequest;
    const { cache } = this.route;
    const since = Date.now();
    if (this.#lockEnd === 0) this.#lockEnd = since + cache.config.lockTimeout;
    const taken = await disk.locks.take(key, cache.config.lockTimeout);
    // Its client left meanwhile: the lock goes (the fill's end, at the close, wakes a waiting
    // one here), saying so to the other workers' waiting ones (one of them fetches).
    if (this.request.closed) {
      if (taken === 'taken') disk.locks.release(key, endNote('lead'));
      return undefined;
    }
    if (taken === 'taken' && this.endFill !== undefined)
      this.endFill = disk.locks.releasing(key, this.endFill, endNote);
    if (taken === 'taken' && (await storedMeanwhile(cache, disk, key, request)))
      return this.request.closed ? undefined : this.#endWait(undefined);
    if (taken !== 'held') return this.forward(forwardReason(cache.get(key), request));
    const over = await disk.locks.released(key, this.#lockEnd, () => this.request.closed);
    if (this.request.closed) return undefined;
    // Its worker was killed mid-fetch: the lock taken over (by this worker or another), one fetch
    // for all again; once only (a lock that cannot be moved aside is waited out no longer).
    if (over === 'abandoned' && !this.#tookOver) {
      this.#tookOver = true;
      return this.#fillAcross(disk);
    }
    if (over === 'abandoned') return this.#forwardAgain();
    // lock_timeout passed: it goes upstream itself, still the fetch its worker's requests wait on.
    if (!over) return this.#forwardAgain();
    const note = await disk.locks.endedSince(key, since);
    const failed = note === undefined ? undefined : endOfNote(note);
    // Its leader's client left, the fetch dropped: the lock taken again (one of those waiting
    // fetches, the others wait for it), not a fetch of each worker's; still within lock_timeout.
    if (failed === 'lead') return this.#fillAcross(disk);
    if (failed === undefined) await readShared(cache, disk, key, true);
    if (this.request.closed) return undefined;
    if (failed === undefined && cache.get(key)?.reuse(request) !== 'fresh') {
      // Another variant's answer (Vary): this worker's requests that waited on this one look again
      // (those of that variant are given it), and it takes the lock again for its own variant,
      // which another worker's request, having waited for the same fetch, may be fetching now.
      // Each worker went upstream for it: one fetch a variant a worker, not a variant.
      if (!this.#lockAgainForVariant(forwardReason(cache.get(key), request))) return this.#forwardAgain();
      this.endFill?.(undefined);
      this.endFill = cache.startFill(key, request);
      return this.#fillAcross(disk);
    }
    return this.#endWait(failed);
  }

  /**
   * Whether a request that waited for a fetch of another variant's (Vary) takes the key's lock for
   * its own (the workers' one fetch of it): once, within lock_timeout from its first wait.
   */
  #lockAgainForVariant(reason: ForwardReason): boolean {
    if (reason !== 'vary-miss' || this.#lockedForVariant || Date.now() >= this.#lockEnd) return false;
    this.#lockedForVariant = true;
    return true;
  }

  /** Another worker's fetch ended (`failed`: how, if it did): this worker's lets go, its requests answered from what it brought. */
  #endWait(failed: FillEnd | undefined): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    const end = this.endFill;
    this.#filling = false;
    this.endFill = undefined;
    end?.(failed);
    return failed === undefined ? this.#lookup(true) : this.#woken(failed);
  }

  /**
   * Goes upstream after waiting for another worker's fetch, with what is stored now: the reason
   * it gives (another variant: `vary-miss`) and, for a stale answer, its validators, unless
   * sent already.
   */
  #forwardAgain(): BeforeAttemptsVerdict {
    const stored = this.route.cache.get(this.key as string);
    const request = this.cacheRequest as CacheRequest;
    const reason = forwardReason(stored, request);
    const validating = this.#validating;
    if (validating === undefined) this.#validate(stored, reason, request);
    // The same answer read again from the disk: its 304 confirms the copy held now, not the one it replaced.
    else if (stored !== undefined && sameValidators(stored, validating, request)) this.#validating = stored;
    return this.forward(reason);
  }

  /** Sends the stored answer's validators when the request goes upstream for a stale one (or its own wish to), unless it asks conditionally itself. */
  #validate(stored: StoredAnswer | undefined, reason: ForwardReason, request: CacheRequest): void {
    if (stored !== undefined && (reason === 'stale' || reason === 'request') && !conditional(request)) {
      this.#validating = stored;
      this.#sent?.addFields(validatorsOf(stored, request));
    }
  }

  /**
   * After its wait, the key's fetch now under way when it is one of this request's variant: it
   * waited for another variant's fetch (`stored`, whose Vary it fails), and one of the herd of its
   * own variant, woken with it, started the fetch of theirs. Without this, each of them went
   * upstream: 100 misses asking for gzip and br made one request for gzip and some 50 for br.
   * Once only, within its lock_timeout: an answer of that fetch not kept does not make them wait
   * in turn, each for the next one's fetch. A fetch of a third variant's is waited out (within
   * lock_timeout) without counting: it ends, and the herd of this one's looks again.
   */
  #fillOfItsVariant(stored: StoredAnswer | undefined, reason: ForwardReason): Fill | undefined {
    if (reason !== 'vary-miss' || this.#waitedForVariant || Date.now() >= this.#lockEnd) return undefined;
    const fill = this.route.cache.fillOf(this.key as string);
    const fetching = fill?.request;
    if (stored === undefined || fetching === undefined) return undefined;
    // A third variant's fetch under way (the one a key's fetches keep): waited out too, then it
    // looks again, and one of its own variant's fetches for the others. Each went upstream: 30
    // misses asking for en, fr and de made 12 to 16 upstream requests, where 3 serve them.
    if (!stored.sameVariant(fetching, this.cacheRequest as CacheRequest)) return fill;
    this.#waitedForVariant = true;
    return fill;
  }

  /** Waits for the fetch under way (fill-wait.ts), within lock_timeout from its first wait; undefined when it cannot. */
  #waitFor(fill: Fill): Promise<BeforeAttemptsVerdict> | undefined {
    if (this.#lockEnd === 0) this.#lockEnd = Date.now() + this.route.cache.config.lockTimeout;
    this.#wait ??= new FillWait({
      closed: () => this.request.closed,
      woken: (end) => this.#woken(end),
      timedOut: () => this.#lookup(true),
      followed: (stream) => this.#followed(stream),
    });
    return this.#wait.wait(fill, this.#lockEnd, asksForPart(this.request.fields, this.request.head.method));
  }

  /** The Range's part of a fill as it streams (its Cache-Status said), or undefined: it waits for the whole. */
  #followed(stream: FillStream): StageAnswer | undefined {
    // Another variant's (Vary), or one this request may not be given fresh (its no-cache): it waits, and looks again.
    if (stream.head.reuse(this.cacheRequest as CacheRequest) !== 'fresh') return undefined;
    const { head, fields, record } = this.request;
    const answer = followedPart({ head, fields, record, background: false }, this.route.compression, stream);
    if (answer === undefined) return undefined;
    this.said(storedStatus(this.route.gateway, stream.head.ttl(), this.#waitedAs), 'collapsed');
    return answer;
  }

  /** The fetch waited for is over: look again; its client left (one waiting fetches); or its failure is this one's too. */
  #woken(end: FillEnd): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    if (end === undefined || end === 'lead') return this.#lookup(end === undefined);
    const stored = this.route.cache.get(this.key as string);
    const reason = forwardReason(stored, this.cacheRequest as CacheRequest);
    this.said(`${forwardedStatus(this.route.gateway, reason)}; collapsed`, `fwd=${reason}; collapsed`);
    if (end instanceof Failure) return end;
    return this.staleFor(end) ?? this.#lookup(true);
  }

  // ── on the upstream's answer ─────────────────────────────────────────────────────

  /** The upstream's head, before anything went downstream: a stored answer in its place (its 5xx), or the one its 304 confirmed. */
  onUpstreamHead(head: UpstreamAnswerHead): HeadVerdict {
    // An earlier failure this request waited out (a hold) is not how its fetch ended.
    this.fetchEnd = undefined;
    const { status } = head;
    // A 304's fields freshen the stored answer less those the earlier stages took out (a plugin's onResponse).
    const fields = status === 304 ? keptFields(head.headers, head.received) : head.received;
    const request = this.cacheRequest;
    const validating = this.#validating;
    const { cache, announce } = this.route;
    // A 304 to the client's own validators goes to it as it is, and freshens the stored answer it names.
    const key = this.#keyOnItsSide();
    if (status === 304 && validating === undefined) cache.notModifiedRelayed(key, request, fields, announce);
    if (status === 304 && validating !== undefined) {
      // One naming another representation updates nothing: the stored answer goes as it stands.
      const cookies = cache.revalidated(validating, request as CacheRequest, headersOf(fields), announce);
      const answer: StageAnswer = {
        send: (out) => {
          this.endFill?.(undefined);
          const said = revalidatedStatus(this.status, validating.ttl());
          this.give(validating, said, 'revalidated', undefined, cookies).send(out);
        },
      };
      return { answer };
    }
    if (!STALE_FOR_STATUS.has(status) || this.refresh) return undefined;
    const stale = this.staleFor(status);
    return stale === undefined ? undefined : { answer: stale };
  }

  /** The upstream's head went downstream: where its body is copied to be stored; undefined when it will not be. */
  override onRelayed(head: RelayedHead): BodyCopy | undefined {
    super.onRelayed(head);
    const { status, reason, fields, version } = head;
    const { cache, announce } = this.route;
    const request = this.cacheRequest;
    const key = this.#keyOnItsSide();
    const { config } = cache;
    const method = this.request.head.method;
    if (method === 'HEAD' && status === 200) cache.headAnswered(key, request, fields, announce);
    const policy =
      request === undefined || method !== 'GET'
        ? undefined
        : keptPolicy(request, status, fields, config.maxEntry, config);
    // One not stored frees those waiting now (each goes upstream), and may supersede the stale one stored: a
    // HEAD's too, whose status is its GET's (RFC 9110 §9.3.2; a HEAD's 200 is headAnswered's; another method has no key).
    if (policy === undefined || key === undefined) {
      if (method === 'GET' || status !== 200) cache.superseded(key, request, status, fields, announce);
      // A 206 to it (sent without Range, RFC 9110 §15.3.7): an origin of parts only, not asked twice a Range.
      if ((status === 200 || status === 206) && key !== undefined && isFill(this.request))
        cache.unkept.note(key);
      this.endFill?.(undefined);
      // A refresh's answer not kept is nobody's: read no further than max_entry.
      return unkeptRefresh(this.request, status, fields, config.maxEntry);
    }
    const since = this.request.record.startedAt;
    const stored = (body: Buffer | undefined) => {
      // Its followers finish from the body kept, told before anyone may be given it.
      if (body !== undefined) this.#stream?.whole(body);
      const answer = body && new StoredAnswer(key, policy, status, reason, body, config, version);
      // Not kept when a purge of its key came since the request did (AnswerCache.set).
      if (answer !== undefined) cache.set(answer, false, since, announce);
      else cache.superseded(key, request, status, fields, announce);
      this.endFill?.(undefined);
      // Its copy dropped as it passed max_entry (or the room copies share): a refresh's is read no further.
      if (body === undefined && isFill(this.request)) cache.unkept.note(key);
      if (body === undefined) this.#stream?.cut('its body passed what the cache may hold of it');
      if (body === undefined)
        dropRefresh(
          this.request,
          `its body passed what the cache may hold of it (max_entry, ${config.maxEntry} bytes, or max_size's room for copies in flight)`,
        );
    };
    // Within the room the route's copies in flight share; a body cut short gives back its part at the close.
    const copy = boundedCopy(config.maxEntry, stored, cache.copies);
    this.#release = copy.release;
    // A Range's fill: the Ranges waiting on it are given their parts as it streams in (fill-follow.ts), in the other workers too (fill-file.ts).
    const stream = isFill(this.request) ? streamOf(cache.fillOf(key), key, policy, head, config) : undefined;
    this.#stream = stream;
    shareFill(cache.disk, stream);
    return stream === undefined ? copy : streamedCopy(copy, stream);
  }

  /** The key this request's answer may be kept under (StoredAnswer.keyOnItsSide: a split route's side). */
  #keyOnItsSide(): string | undefined {
    return StoredAnswer.keyOnItsSide(this.key, this.route.split !== undefined, this.request.record.upstream);
  }

  override onEnd(record: RequestRecord, finished: boolean): void {
    this.#wait?.stop();
    this.#release?.();
    // Stopped short of its whole body (a whole one told its stream already): its followers are cut.
    this.#stream?.cut(
      `its fetch ended ${record.failure === undefined ? 'early' : `with ${record.failure.type}`}`,
    );
    if (this.#filling) this.endFill?.(this.fetchEnd ?? (finished ? undefined : 'lead'));
    super.onEnd(record, finished);
  }
}

/** A bug must cost one request a 500, never the process (as in the session's run). */
function cacheBug(err: unknown): Failure {
  return new Failure('proxy_internal_error', 'internal error while reading the cache', { cause: err });
}
