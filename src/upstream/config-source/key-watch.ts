/**
 * One key followed for as long as it is wanted: watched from a revision, the watch opened again
 * (from the revision after the last one seen) whenever it ends, and, when etcd compacted past
 * that revision, the key read afresh so that the latest value is never missed. Reports whether
 * etcd is reachable, and since when it is not.
 */
import type { EtcdClient, KeyValue } from './etcd-client.ts';
import { EtcdError } from './etcd-transport.ts';

export interface KeyFollower {
  /** The key's value at a revision (undefined: deleted), in revision order, never older than the last. */
  onValue(kv: KeyValue | undefined, revision: number): void;
  /**
   * etcd became unreachable or reachable again, and why; `refused`: it answers, and refuses this
   * client (a wrong password, a user without the key): no outage, a setting to fix.
   */
  onReachable(reachable: boolean, why: string, refused?: boolean): void;
  /**
   * etcd's revisions went back below `seen`, the newest one seen, to `now` (its data lost, a
   * member rebuilt, a restore from an older snapshot): told before the key's value read afresh,
   * which comes next whatever its revision, so that revision numbers from before decide nothing.
   */
  onHistoryLost?(seen: number, now: number): void;
}

/** Waits between two tries to open the watch again, doubling to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_CAP_MS = 2_000;

/**
 * Follows `key` from `fromRevision` (the first revision not yet seen; undefined: none seen, so
 * the key is read first and its value given whatever its revision). Returns its stop.
 * `reachable` is what the follower holds etcd to be now: false for a gateway that started on its
 * last good config because etcd could not be read, so that the first watch opened tells it etcd
 * answers again (were it assumed reachable, a watch that opens at once would say nothing, and
 * the gateway would say "unreachable" for good).
 *
 * @example const stop = followKey(client, '/candor/config', read.revision + 1, follower);
 */
export function followKey(
  client: EtcdClient,
  key: string,
  fromRevision: number | undefined,
  follower: KeyFollower,
  reachable = true,
): () => void {
  const following = startFollowing(client, key, fromRevision, follower, reachable);
  return () => following.stop();
}

/**
 * As followKey, the following itself returned: its `reopen` for a caller that found etcd silent
 * another way. `keyAt`: the key's modRevision (0: absent) in the read `fromRevision` came from,
 * when the caller has it (a gateway's start): the first watch's read then tells a key rewritten
 * below `fromRevision` (etcd rebuilt and written past it before that watch) from the one read.
 */
export function startFollowing(
  client: EtcdClient,
  key: string,
  fromRevision: number | undefined,
  follower: KeyFollower,
  reachable = true,
  keyAt?: number,
): KeyFollowing {
  const following = new KeyFollowing(client, key, fromRevision, follower, reachable, keyAt);
  following.open();
  return following;
}

/** One key followed: its watch, the revision it goes on from, and whether etcd is reachable. */
export class KeyFollowing {
  readonly #client: EtcdClient;
  readonly #key: string;
  readonly #follower: KeyFollower;
  /** The first revision not yet seen (undefined: the key not read yet). */
  #next: number | undefined;
  #stopped = false;
  /** Ends the open watch (its `end`: what it still has under way, its history check's read, then acts on nothing). */
  #stopWatch: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wait = RETRY_FIRST_MS;
  /** What the follower was last told (or, before the first open, what it holds already). */
  #reachable: boolean;
  /** Told unreachable as refused (etcd answers and refuses this client), not as away. */
  #refused = false;
  /**
   * The key's modRevision in the last value given (0: absent), undefined until known: what a
   * read after a lost watch must find below #next unless etcd's history was rebuilt.
   */
  #keyAt: number | undefined;
  /**
   * The next watch created is checked with a read: one opened again after a watch was lost, and
   * the first one from a revision given (etcd may have been rebuilt since the read that gave it).
   */
  #checkNext: boolean;

  constructor(
    client: EtcdClient,
    key: string,
    fromRevision: number | undefined,
    follower: KeyFollower,
    reachable: boolean,
    keyAt: number | undefined,
  ) {
    this.#client = client;
    this.#key = key;
    this.#next = fromRevision;
    this.#follower = follower;
    this.#reachable = reachable;
    this.#keyAt = fromRevision === undefined ? undefined : keyAt;
    this.#checkNext = fromRevision !== undefined;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#stopWatch?.();
  }

  /**
   * etcd was found silent another way (the gateway's lease not renewed): the open watch is taken
   * for lost and opened again. A watch says nothing while the key does not change, so a member
   * frozen, or a connection whose packets are dropped, would never end it: the gateway would
   * say etcd is reachable, and miss every revision pushed to the members that answer. A watch
   * being opened has its own bound, and one waiting to be opened again is lost already.
   */
  reopen(why: string): void {
    const stop = this.#stopWatch;
    if (stop === undefined || this.#stopped) return;
    stop();
    this.#lost(why);
  }

  #lost(why: string, refused = false): void {
    this.#stopWatch = undefined;
    this.#checkNext = true;
    if (this.#stopped) return;
    // Said when it changes: reachable to lost, or etcd away to etcd refusing (and back).
    if (this.#reachable || this.#refused !== refused) {
      this.#reachable = false;
      this.#refused = refused;
      this.#follower.onReachable(false, why, refused);
    }
    this.#timer = setTimeout(() => this.open(), this.#wait);
    this.#wait = Math.min(this.#wait * 2, RETRY_CAP_MS);
  }

  #found(): void {
    this.#wait = RETRY_FIRST_MS;
    if (!this.#reachable) {
      this.#reachable = true;
      this.#refused = false;
      this.#follower.onReachable(true, 'watch open again');
    }
  }

  /** The watch fell behind a compaction: what the key holds now, then watch on from there. */
  async #reread(): Promise<void> {
    try {
      this.#taken(await this.#client.range(this.#key));
    } catch (err) {
      this.#lost((err as Error).message, refusedBy(err));
    }
  }

  /**
   * A watch created at a store revision below the newest one seen: a member lagging behind the
   * one that gave it (its watch catches up on its own), or etcd's history gone back (data lost,
   * a restore from an older snapshot), where a watch from a revision the store has not reached
   * waits for it and every write to the new etcd would go unseen until its numbers passed the
   * old ones. So too a watch opened again after one was lost, whatever the store's revision: a
   * new etcd written past the revision seen before the watch came back holds the key at a
   * revision below it that is not the one seen, which no watch from there would ever give. A
   * read, which is linearizable, tells which; the watch is left open until it does. A read that
   * fails (an etcd just started, with no leader yet: the watch opened, the read refused) is asked
   * again while the watch lasts: given up, the watch waited for a revision the new store might not
   * reach for days, and its pushes went unseen (an outage the watch itself tells).
   */
  async #checkHistory(from: number, current: () => boolean, end: () => void): Promise<void> {
    const read = await this.#client.range(this.#key).catch(() => undefined);
    if (this.#stopped || !current()) return;
    // The watch gave a write of the key meanwhile (at `from` or after): etcd's store reached it,
    // and what the watch gave is newer than a read made before it, which would otherwise be taken
    // for the key rewritten below `from` and give its older value after the newer one.
    if (this.#next !== from) return;
    if (read === undefined) {
      setTimeout(() => void this.#checkHistory(from, current, end), RETRY_CAP_MS).unref();
      return;
    }
    if (read.revision >= from - 1) {
      // The key's revision not known yet (followed from a revision given): it is this one, unless
      // it changed since, which the watch gives. Only where the store did not go back: a store
      // below the revision given (etcd restored empty between the read that gave it and this
      // watch, a gateway's start) would never give the watch a write, and the key's value there
      // was left untaken for good.
      if (this.#keyAt === undefined) {
        const at = read.kvs[0]?.modRevision ?? 0;
        if (at < from) this.#keyAt = at;
        return;
      }
      if (!this.#rewritten(read, from)) return;
    }
    end();
    this.#taken(read);
  }

  /** The key holds, below `from`, a value other than the one last given: etcd's history was rebuilt under it. */
  #rewritten(read: { kvs: KeyValue[] }, from: number): boolean {
    const kv = read.kvs[0];
    return (
      kv !== undefined && this.#keyAt !== undefined && kv.modRevision < from && kv.modRevision !== this.#keyAt
    );
  }

  /** What a read of the key found, given to the follower, then watch on from there. */
  #taken(read: { revision: number; kvs: KeyValue[] }): void {
    if (this.#stopped) return;
    const kv = read.kvs[0];
    const seen = this.#next === undefined ? undefined : this.#next - 1;
    const storeBack = seen !== undefined && read.revision < seen;
    const rewritten = !storeBack && this.#next !== undefined && this.#rewritten(read, this.#next);
    const wentBack = storeBack || rewritten;
    if (seen !== undefined && wentBack)
      this.#follower.onHistoryLost?.(seen, rewritten ? (kv?.modRevision ?? read.revision) : read.revision);
    if (kv === undefined) this.#follower.onValue(undefined, read.revision);
    else if (this.#next === undefined || wentBack || kv.modRevision >= this.#next)
      this.#follower.onValue(kv, kv.modRevision);
    this.#keyAt = kv?.modRevision ?? 0;
    this.#next = read.revision + 1;
    this.#found();
    this.open();
  }

  open(): void {
    if (this.#stopped) return;
    if (this.#next === undefined) {
      void this.#reread();
      return;
    }
    const from = this.#next;
    // This stream's own end: a compaction's cancel or the connection's end closes it, whichever
    // comes first, and etcd would otherwise keep the canceled stream's connection open.
    let ended = false;
    let stopThis: (() => void) | undefined;
    // Every end of it goes through here, reopen()'s and stop()'s too: a history check's read
    // still under way then finds it over. Its stream stopped alone, that read went on to open
    // a watch of its own beside the one reopen()'s retry opens, and stop() ended one of them.
    const end = () => {
      ended = true;
      stopThis?.();
      if (this.#stopWatch === end) this.#stopWatch = undefined;
    };
    this.#client
      .watch(this.#key, from, {
        // Reachable once etcd created the watch, not when a connection answered: what answers
        // there may be no etcd (a proxy's page), and would be taken for it again and again.
        onCreated: (storeRevision) => {
          if (ended || this.#stopped) return;
          this.#found();
          const check = storeRevision < from - 1 || this.#checkNext || this.#keyAt === undefined;
          this.#checkNext = false;
          if (check) void this.#checkHistory(from, () => !ended, end);
        },
        onEvents: (events) => {
          if (ended || this.#stopped) return;
          for (const event of events) {
            const revision = event.type === 'put' ? event.kv.modRevision : event.revision;
            if (revision < (this.#next ?? 0)) continue;
            this.#next = revision + 1;
            this.#keyAt = event.type === 'put' ? event.kv.modRevision : 0;
            this.#follower.onValue(event.type === 'put' ? event.kv : undefined, revision);
          }
        },
        onCompacted: () => {
          end();
          if (!this.#stopped) void this.#reread();
        },
        onEnd: (why, refused) => {
          end();
          this.#lost(why, refused === true);
        },
      })
      .then(
        (stop) => {
          stopThis = stop;
          if (this.#stopped || ended) return stop();
          this.#stopWatch = end;
        },
        (err: Error) => this.#lost(err.message, refusedBy(err)),
      );
  }
}

/** etcd answered, and refused this client (EtcdError `refused`): not etcd being away. */
function refusedBy(err: unknown): boolean {
  return err instanceof EtcdError && err.kind === 'refused';
}
