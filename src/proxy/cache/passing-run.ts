import type { CompressionConfig, SplitSide } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { withSfMember } from '../../core/failure/structured-field.ts';
import type { Release } from '../../core/limits/count.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { PathOptions } from '../../core/uri-path.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type {
  BeforeAttemptsVerdict,
  BodyCopy,
  ForwardedRequest,
  RelayedHead,
  StageHooks,
  StageListener,
  StageRequest,
} from '../stages/stage.ts';
import type { AnswerCache } from './answer-cache.ts';
import { type ForwardReason, forwardedStatus } from './cache-status.ts';
import type { FillEnd } from './fill.ts';
import { forwardedKeyPart } from './forwarded-key.ts';
import { type CacheNews, type InvalidatedTarget, invalidatedKeys, namedKeys } from './invalidation.ts';
import { refreshOf } from './refresh-exchange.ts';
import { onlyIfCached } from './request-directives.ts';

/** What a route's cache stage holds (cache-stage.ts), given by the composition root when a config loads. */
export interface CachedRoute {
  /** The route's name. */
  readonly name: string;
  /** Its stored answers (kept across reloads: route-caches.ts). */
  readonly cache: AnswerCache;
  /** The route's compression: a stored answer (an identity body) goes through it as a fetched one does. */
  readonly compression: CompressionConfig | undefined;
  /** The gateway's name, in Cache-Status and Proxy-Status. */
  readonly gateway: string;
  /** errors.detail is minimal: the upstream's name stays out of a Proxy-Status. */
  readonly minimalErrors: boolean;
  readonly metrics: {
    cacheLookup(route: string, result: string): void;
    cacheStale(route: string, cause: string): void;
  };
  /**
   * The route's authentication (`auth`) let in every request the cache meets: each is one user's,
   * read as a request with Authorization (RFC 9111 §3.5), whatever it proved itself with
   * (cache-request.ts).
   */
  readonly authenticates: boolean;
  /** How request paths are put in their normal form (`paths`): the keys' paths are in it. */
  readonly paths: PathOptions;
  /** The route's split (or canary), when it has one: each side keeps its own answers. */
  readonly split: { readonly sides: readonly SplitSide[] } | undefined;
  /** Tells the other workers of the keys an unsafe request invalidated; undefined in-process. */
  readonly announce: ((news: CacheNews) => void) | undefined;
  /** Runs a request the gateway makes itself (a stored answer's refresh) on `listener`, as a client's. */
  background(listener: StageListener, exchange: DownstreamExchange): void;
  /**
   * Holds the config's runtime (its stores, its plugins) open until the release: a fetch the
   * gateway starts later, after a disk lock, holds it from when it was decided, as the request
   * that decided it held it (a reload in between must not close what the fetch will use).
   */
  keepRuntime(): Release;
}

/**
 * A request a route's cache cannot answer (another method than GET or HEAD, a body, an upgrade,
 * a method override): it goes upstream, saying so in Cache-Status (on every answer of the route,
 * RFC 9211), and an unsafe one's success invalidates its target's stored answers (RFC 9111 §4.4).
 * CacheRun (cache-run.ts) is the one that can.
 */
export class PassingRun implements StageHooks {
  protected readonly route: CachedRoute;
  protected readonly request: StageRequest;
  /** A background fetch's `done` (refresh-exchange.ts: a refresh's, a fill's); undefined: a client's request. */
  protected readonly refresh: ((end?: FillEnd) => void) | undefined;
  /** The Cache-Status of what goes out now (forwarded until the cache gives an answer of its own). */
  protected status: string;
  /** The keys an unsafe method's success invalidates (invalidation.ts). */
  #invalidated: readonly string[] = [];
  /** An unsafe request's target, which the URIs its answer names are read against (namedKeys). */
  #target: InvalidatedTarget | undefined;
  /** When the request last went upstream (ms since the epoch; 0: not yet): its answer's age counts from then. */
  #askedAt = 0;
  readonly #reason: ForwardReason;
  readonly #detail: string | undefined;

  constructor(route: CachedRoute, request: StageRequest, reason: ForwardReason, detail?: string) {
    this.route = route;
    this.request = request;
    this.refresh = refreshOf(request);
    this.#reason = reason;
    this.#detail = detail;
    this.status = forwardedStatus(route.gateway, 'bypass');
    // Counted once, at the end, by what the cache did in the end (a forwarded request may end stale).
    request.record.cache = 'fwd=bypass';
  }

  onForward(sent: ForwardedRequest): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    this.invalidatedBy(sent);
    return this.forward(this.#reason, this.#detail);
  }

  /** The keys this request invalidates if its upstream answers under 400 (an unsafe method's: none for a safe one). */
  protected invalidatedBy(sent: ForwardedRequest): void {
    const { head, fields, listener } = this.request;
    const forwarded = forwardedKeyPart(sent.headers, sent.authority, listener.protocol);
    const target = { authority: sent.authority, upstreamPath: sent.path, forwarded };
    this.#invalidated = invalidatedKeys(
      head.method,
      target,
      listener.protocol,
      this.route.split?.sides,
      fields,
    );
    if (this.#invalidated.length > 0) this.#target = target;
  }

  /** The request goes upstream for `reason` (undefined), unless its client asked for a stored answer only. */
  protected forward(reason: ForwardReason, detail?: string): Failure | undefined {
    if (onlyIfCached(this.request.fields, this.refresh)) return this.notStored();
    this.said(forwardedStatus(this.route.gateway, reason, detail), `fwd=${reason}`);
    this.#askedAt = Date.now();
    return undefined;
  }

  /**
   * When the request went upstream (ms since the epoch; 0: it has not): an upstream's Age counts
   * from then, not from when its answer came (RFC 9111 §4.2.3), the time it took being part of it.
   */
  get askedAt(): number {
    return this.#askedAt;
  }

  /** only-if-cached, and nothing stored may answer: the gateway's own 504, the upstream not contacted. */
  protected notStored(): Failure {
    this.request.record.cache = 'only-if-cached'; // no Cache-Status: the 504 is the gateway's own (editAnswer)
    const details =
      'the client asked for a stored answer only (Cache-Control: only-if-cached), and none could be given';
    return new Failure('only_if_cached', details);
  }

  /** What goes out now: its Cache-Status, and what the log line says the cache did (`result`). */
  protected said(status: string, result: string): void {
    this.status = status;
    this.request.record.cache = result;
  }

  /** An unsafe request's success: its target's stored answers go, and those of the URIs its answer names (namedKeys). */
  onRelayed(head: RelayedHead): BodyCopy | undefined {
    const target = this.#target;
    if (head.status >= 400 || target === undefined) return undefined;
    const { protocol } = this.request.listener;
    const named = namedKeys(head.fields, target, protocol, this.route.split?.sides, this.route.paths);
    this.route.cache.invalidateAll([...this.#invalidated, ...named], this.route.announce);
    return undefined;
  }

  /**
   * Every answer of the route says what the cache did (RFC 9211), after every other edit; but the
   * gateway's error responses, which no cache made or stored (§2: an intermediary "SHOULD NOT
   * append a Cache-Status member to responses that it generates locally, even if that
   * intermediary contains a cache"): the 502 of an upstream down with nothing to stand in for it,
   * only-if-cached's 504, a rate limit's 429. Proxy-Status says what happened to those. The
   * caches behind (the upstream's Cache-Status, as it came or as stored) are kept before this
   * one's member when theirs is a List, and dropped when it is not: joined, a broken field would
   * make a strict reader drop this gateway's member with it (RFC 9651 §4.2).
   */
  editAnswer(headers: readonly string[], failed: boolean): string[] {
    return failed ? [...headers] : withSfMember(headers, 'cache-status', this.status);
  }

  onEnd(record: RequestRecord, _finished: boolean): void {
    this.route.metrics.cacheLookup(this.route.name, record.cache as string);
  }
}
