import { basename } from 'node:path';
import type CachePolicy from 'http-cache-semantics';
import type { CacheConfig } from '../../core/config/types.ts';
import { firstField } from '../../core/net/downstream.ts';
import type { DiskTell } from './disk-failures.ts';
import { DiskStore } from './disk-store.ts';
import { Fill, type FillEnd } from './fill.ts';
import { headVerdict } from './head-update.ts';
import type { CacheNews } from './invalidation.ts';
import { keyMatches } from './key-authority.ts';
import { identifies } from './not-modified-update.ts';
import { entryName, PURGE_IDS_MAX, type PurgeTally, purgeId } from './purge-tally.ts';
import { rememberedKey } from './remembered-key.ts';
import { type CacheRequest, headersOf, type StoredAnswer } from './stored-answer.ts';
import { UnkeptKeys } from './unkept-keys.ts';

/** The client errors that say the resource is not there (any more): AnswerCache.superseded. */
const SUPERSEDING = new Set([404, 410]);

/** Purges remembered, to refuse an answer to a request older than one of them that names its key. */
const MAX_PURGES = 64;

/**
 * Keys whose latest invalidation is remembered, for the same refusal (the oldest forgotten first,
 * after which no answer to a request older than it is kept). Each unsafe request names 2 keys or
 * more (http and https): at 5000 a second, an answer fetched in over ~1.6 s is not stored.
 */
const MAX_INVALIDATED = 16_384;

/**
 * A route's stored answers in memory, by key, least recently used out first: the bodies and
 * fields held never pass `max_size` bytes, and no answer over `max_entry` is kept. One answer
 * per key (the latest variant when the upstream's Vary splits a key: a request for another
 * variant is a miss that replaces it).
 */
export class AnswerCache {
  readonly config: CacheConfig;
  /** Map order is recency: a hit moves its entry to the end, eviction takes from the front. */
  readonly #entries = new Map<string, StoredAnswer>();
  /**
   * The key last in #entries' order (the most recently used), or undefined when not known: a hit
   * of it is already where a hit moves its entry, and a Map's delete and set again (which may
   * shrink its table and grow it back) are spared, the hit of one hot key's every request.
   */
  #newest: string | undefined;
  readonly #fills = new Map<string, Fill>();
  #bytes = 0;
  /** Bytes the copies of answers on their way here hold (boundedCopy's), together at most max_size: past it, one is dropped. */
  #copying = 0;
  readonly copies = {
    take: (bytes: number): boolean => {
      if (this.#copying + bytes > this.config.maxSize) return false;
      this.#copying += bytes;
      return true;
    },
    give: (bytes: number): void => {
      this.#copying -= bytes;
    },
  };
  /** The answers the workers share on disk (`cache.dir`, or the gateway's workers' folder); undefined without either. */
  readonly disk: DiskStore | undefined;
  /** The keys a Range's whole fetch did not keep: their Ranges go as sent a while (unkept-keys.ts). */
  readonly unkept = new UnkeptKeys();
  /** The route's name: what names an answer across the workers (purge-tally.ts's entryName). */
  readonly #route: string;
  /** The latest purges (when, on performance.now()'s clock, and under what prefix: all without one). */
  readonly #purges: { at: number; prefix: string | undefined }[] = [];
  /** When each key's latest invalidation was (performance.now()), the latest MAX_INVALIDATED keys' (dropped). */
  readonly #droppedAt = new Map<string, number>();
  /** When the latest purge or invalidation no longer remembered was: an answer to a request before it is not kept. */
  #forgotten = Number.NEGATIVE_INFINITY;

  /**
   * `workersDir`: the folder every worker of the gateway shares (workers-store.ts), where a route
   * without a `cache.dir` of its own keeps its answers, bounded by its max_size.
   */
  constructor(config: CacheConfig, route: string, workersDir?: string, tell?: DiskTell) {
    this.config = config;
    this.#route = route;
    const dir = config.dir ?? workersDir;
    this.disk =
      dir === undefined
        ? undefined
        : new DiskStore(dir, route, config.maxDisk ?? config.maxSize, config.maxEntry, config, tell);
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The answers held, each by its id across the workers (purge-tally.ts) with its bytes: what a
   * cluster worker tells its primary of a cache the workers share, so that the gateway's count
   * takes an answer several workers hold copies of once. Undefined past PURGE_IDS_MAX answers
   * (no list of that size over IPC: the primary then counts the largest worker's).
   */
  answerIds(): Record<string, number> | undefined {
    if (this.#entries.size > PURGE_IDS_MAX) return undefined;
    const ids: Record<string, number> = {};
    for (const entry of this.#entries.values()) ids[purgeId(entryName(this.#route, entry.key))] = entry.size;
    return ids;
  }

  /** The answer stored for this key, made the most recently used; undefined when none (or it is of no more use). */
  get(key: string): StoredAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.usefulFor() <= 0) {
      this.delete(key);
      return undefined;
    }
    if (key === this.#newest) return entry;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#newest = key;
    return entry;
  }

  /**
   * Keeps an answer (replacing the key's), evicting the least recently used until it fits; one
   * the upstream just gave (not `fromDisk`) goes to the shared directory too. One to a request
   * that came `since` (performance.now()) before a purge or an invalidation of its key (or one read
   * from the disk since then) is not kept: fetched before it, it would put back what it removed (a
   * page fixed upstream, its old copy served on). The other workers are told (`announce`: a
   * cluster worker's) once its file is in place: their copies in memory, older, go, and they read
   * this one; else each gave its own on, the old page and the new in turn.
   */
  set(entry: StoredAnswer, fromDisk = false, since?: number, announce?: (news: CacheNews) => void): boolean {
    if (entry.body.length > this.config.maxEntry || entry.size > this.config.maxSize) return false;
    if (since !== undefined && this.#purgedSince(entry.key, since)) return false;
    if (!fromDisk) this.disk?.write(entry, this.#storedNews(entry.key, announce));
    this.delete(entry.key);
    this.#evictFor(entry.size);
    this.#entries.set(entry.key, entry);
    this.#newest = entry.key;
    this.#bytes += entry.size;
    return true;
  }

  /** What tells the other workers (`announce`: a cluster worker's) that the key's file is in place: `cache-stored`. */
  #storedNews(key: string, announce: ((news: CacheNews) => void) | undefined): (() => void) | undefined {
    return announce && (() => announce({ candor: 'cache-stored', route: this.#route, keys: [key] }));
  }

  /**
   * A 304 to the cache's own validators updates `entry` (StoredAnswer.revalidated): the size its
   * new fields take is counted, and the least recently used others go until the store fits
   * max_size again (the entry itself too, should it alone pass it). One the 304 made an answer a
   * shared cache may not keep (`no-store`, `private`; or one user's fields, a 304 to a request with
   * a Cookie that gives no lifetime: StoredAnswer.oneUsersNow) answers the request that revalidated it,
   * and goes, here and on the shared disk (unless another answer took its key meanwhile), and in
   * the other workers (`announce`), whose copies would stand in for the next failure. One
   * still kept is written to the shared disk again: its file would otherwise hold the answer as
   * it was before the 304 (stale, its old fields) for the other workers and after a restart. No
   * news of it goes to them (a 200's does, set): that write may land after another worker's
   * invalidation of the key, and told, the others read back the page it had withdrawn
   * (cache-unkept-workers.test.ts, a loaded machine).
   * Returns the 304's Set-Cookie and Proxy-Status fields (flat): that request's, which no stored
   * answer keeps (not-modified-update.ts).
   */
  revalidated(
    entry: StoredAnswer,
    request: CacheRequest,
    notModified: CachePolicy.Headers,
    announce: ((news: CacheNews) => void) | undefined,
  ): string[] {
    const before = entry.size;
    const updated = entry.revalidated(request, notModified);
    const cookies = ownFields(notModified);
    const held = this.#entries.get(entry.key);
    if (!entry.keepable() || (updated && entry.oneUsersNow(request))) {
      if (held === undefined || held === entry) this.invalidateAll([entry.key], announce);
      return cookies;
    }
    if (held !== entry) return cookies;
    this.#bytes += entry.size - before;
    if (entry.size > this.config.maxSize) this.delete(entry.key);
    else if (updated) this.disk?.write(entry);
    this.#evictFor(0, entry.key);
    return cookies;
  }

  /**
   * The upstream answered a HEAD of this key with a 200 (RFC 9111 §4.3.5): the stored GET answer
   * it could have been given from (the request's variant) is updated with its fields when its
   * validators are the stored ones, and goes (here and on the shared disk) when they, or its
   * length, are not: the resource changed, and the stored answer would be given as it was (in the
   * other workers too, `announce`: their copies are as old).
   */
  headAnswered(
    key: string | undefined,
    request: CacheRequest | undefined,
    fields: readonly string[],
    announce: ((news: CacheNews) => void) | undefined,
  ): void {
    const stored = this.#variantOf(key, request);
    if (stored === undefined || request === undefined) return;
    const head = headersOf(fields);
    const verdict = headVerdict(stored.policy.toObject().resh, stored.body.length, head);
    if (verdict === 'stale') this.invalidateAll([stored.key], announce);
    else if (verdict === 'update') this.revalidated(stored, request, head, announce);
  }

  /**
   * The upstream answered a client's own conditional request with a 304, relayed to that client:
   * the stored answer it identifies (the request's variant, its ETag or Last-Modified: RFC 9111
   * §4.3.4) is freshened by it, as by a 304 to the cache's own validators; else it stayed stale,
   * and every client revalidating its copy went upstream while the store had the same one.
   */
  notModifiedRelayed(
    key: string | undefined,
    request: CacheRequest | undefined,
    fields: readonly string[],
    announce: ((news: CacheNews) => void) | undefined,
  ): void {
    const stored = this.#variantOf(key, request);
    if (stored === undefined || request === undefined) return;
    const notModified = headersOf(fields);
    if (identifies(stored.policy.toObject().resh, notModified))
      this.revalidated(stored, request, notModified, announce);
  }

  /**
   * The upstream gave a GET of this key a full answer that is not kept (`no-store`, `private`, a
   * cookie, a body past max_entry) and that speaks of the resource: a 2xx or 3xx (a 304 aside, and
   * a part without a validator), a 404 or 410. The stale answer stored for the request's variant is no longer the
   * resource's (RFC 9111 §4.3.3: none of the stored answers is suitable) and goes, here and on the
   * shared disk, and in the other workers (`announce`), whose copies of it are as old: else it
   * stood in for the next failure, a page the origin had replaced or deleted given as a 200. A
   * fresh one stays (the cache may give it until stale), as does one the answer names (identifies:
   * a 200 that only set a cookie); a 4xx that speaks of the request, or a 5xx, changes nothing.
   */
  superseded(
    key: string | undefined,
    request: CacheRequest | undefined,
    status: number,
    fields: readonly string[],
    announce: ((news: CacheNews) => void) | undefined,
  ): void {
    const stored = this.#variantOf(key, request);
    if (stored === undefined || request === undefined || stored.fresh()) return;
    // A part speaks of the resource when it names its validator: another one is another representation.
    const part =
      status === 206 && (firstField(fields, 'etag') ?? firstField(fields, 'last-modified')) !== undefined;
    if (
      !SUPERSEDING.has(status) &&
      !part &&
      (status < 200 || status >= 400 || status === 206 || status === 304)
    )
      return;
    if (!identifies(stored.policy.toObject().resh, headersOf(fields)))
      this.invalidateAll([stored.key], announce);
  }

  /** The answer stored under `key` for the request's variant (its Vary matches), if any. */
  #variantOf(key: string | undefined, request: CacheRequest | undefined): StoredAnswer | undefined {
    if (key === undefined || request === undefined) return undefined;
    const stored = this.#entries.get(key);
    return stored?.matches(request) ? stored : undefined;
  }

  /** Drops the least recently used answers (but `spare`'s) until `extra` more bytes fit in max_size. */
  #evictFor(extra: number, spare?: string): void {
    for (const [key] of this.#entries) {
      if (this.#bytes + extra <= this.config.maxSize) break;
      if (key !== spare) this.delete(key);
    }
  }

  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
    this.#bytes -= entry.size;
    return true;
  }

  /** An unsafe request changed the key's resource (invalidation.ts): its answer goes, here and on the shared disk. */
  invalidate(key: string): void {
    this.#dropped(key);
    this.disk?.remove(key);
  }

  /**
   * The key's answer is no longer true: the copy held goes, and an answer to a request made before
   * now is not kept (set's `since`). A fetch under way, or a read of the shared disk, would put it
   * back; its request came first.
   */
  #dropped(key: string): void {
    this.delete(key);
    // By a digest when long: a client's POSTs to long URLs choose these keys (remembered-key.ts).
    const remembered = rememberedKey(key);
    this.#droppedAt.delete(remembered);
    this.#droppedAt.set(remembered, performance.now());
    if (this.#droppedAt.size <= MAX_INVALIDATED) return;
    const [oldest, at] = this.#droppedAt.entries().next().value as [string, number];
    this.#droppedAt.delete(oldest);
    this.#forgotten = Math.max(this.#forgotten, at);
  }

  /**
   * Drops every stored answer (or those under `prefix`: keyMatches); resolves to how many, and
   * names each in `tally` when given (a cluster worker's, for the primary to count across
   * workers). The answers in memory go at once (no request is answered one from now on), the
   * shared files in the background (DiskStore.purge: a read of one meanwhile is a miss).
   */
  async purge(prefix?: string, tally?: PurgeTally): Promise<number> {
    this.#purges.push({ at: performance.now(), prefix });
    const forgotten = this.#purges.length > MAX_PURGES ? this.#purges.shift() : undefined;
    if (forgotten !== undefined) this.#forgotten = Math.max(this.#forgotten, forgotten.at);
    const dropped: string[] = [];
    for (const key of [...this.#entries.keys()])
      if ((prefix === undefined || keyMatches(key, prefix)) && this.delete(key)) dropped.push(key);
    // The shared files go too (each worker asked removes what is left), counted with the answers
    // in memory once each: an answer kept in both is one; one on disk alone (after a restart, or
    // stored by another worker) is one too, never left out of the count.
    const disk = this.disk;
    const files = disk === undefined ? undefined : await disk.purge(prefix);
    let removed = files?.size ?? 0;
    if (tally !== undefined) for (const file of files ?? []) tally.add(basename(file));
    for (const key of dropped) {
      if (disk !== undefined && files?.has(disk.fileOf(key))) continue;
      removed++;
      tally?.add(entryName(this.#route, key));
    }
    return removed;
  }

  /** A purge or an invalidation of this key came after `since`: an answer to a request then is of before it. */
  #purgedSince(key: string, since: number): boolean {
    const dropped = this.#droppedAt.size === 0 ? undefined : this.#droppedAt.get(rememberedKey(key));
    if (since <= this.#forgotten || (dropped !== undefined && since <= dropped)) return true;
    return this.#purges.some((p) => p.at >= since && (p.prefix === undefined || keyMatches(key, p.prefix)));
  }

  /**
   * An unsafe request changed these keys' resources (invalidation.ts): their answers go, here and
   * on the shared disk, and the other workers are told (`announce`: a cluster worker's), each of
   * which holds copies of its own in memory.
   */
  invalidateAll(keys: readonly string[], announce: ((news: CacheNews) => void) | undefined): void {
    if (keys.length === 0) return;
    for (const key of keys) this.invalidate(key);
    announce?.({ candor: 'cache-invalidated', route: this.#route, keys });
  }

  /**
   * Another worker's unsafe request changed these keys' resources (CacheNews): they go here as by
   * an invalidation of this worker's own, the shared disk's file too. That worker removed the file
   * it found; one this worker's write put there after (its answer stored in the instant before the
   * news came) would be read back, by any worker and after a restart, until it went stale. Removed
   * in the background (DiskStore.removeLater): every worker hears of every unsafe request.
   */
  invalidatedElsewhere(keys: readonly string[]): void {
    for (const key of keys) {
      this.#dropped(key);
      this.disk?.removeLater(key);
    }
  }

  /**
   * Another worker stored newer answers of these keys in the shared folder (CacheNews): the
   * copies held here go from memory (the file stays), and the next request reads the new one.
   */
  storedElsewhere(keys: readonly string[]): void {
    for (const key of keys) this.delete(key);
  }

  /** The fetch of this key in flight, if one is. */
  fillOf(key: string): Fill | undefined {
    return this.#fills.get(key);
  }

  /** This request fetches the key; the others that miss meanwhile wait for it. Returns the end of the fetch. */
  startFill(key: string, request?: CacheRequest): (end?: FillEnd) => void {
    const fill = new Fill(request);
    this.#fills.set(key, fill);
    let over = false;
    return (end) => {
      if (over) return;
      over = true;
      if (this.#fills.get(key) === fill) this.#fills.delete(key);
      fill.over(end);
    };
  }
}

/** A 304's fields of its own exchange (flat), which go to the client it answered and are not stored: Set-Cookie, Proxy-Status. */
function ownFields(notModified: CachePolicy.Headers): string[] {
  const out = [notModified['set-cookie'] ?? []].flat().flatMap((value) => ['set-cookie', value]);
  const status = notModified['proxy-status'];
  if (typeof status === 'string') out.push('proxy-status', status);
  return out;
}
