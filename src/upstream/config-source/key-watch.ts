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

/** As followKey, the following itself returned: its `reopen` for a caller that found etcd silent another way. */
export function startFollowing(
  client: EtcdClient,
  key: string,
  fromRevision: number | undefined,
  follower: KeyFollower,
  reachable = true,
): KeyFollowing {
  const following = new KeyFollowing(client, key, fromRevision, follower, reachable);
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
  #stopWatch: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wait = RETRY_FIRST_MS;
  /** What the follower was last told (or, before the first open, what it holds already). */
  #reachable: boolean;

  constructor(
    client: EtcdClient,
    key: string,
    fromRevision: number | undefined,
    follower: KeyFollower,
    reachable: boolean,
  ) {
    this.#client = client;
    this.#key = key;
    this.#next = fromRevision;
    this.#follower = follower;
    this.#reachable = reachable;
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
    if (this.#stopped) return;
    if (this.#reachable) {
      this.#reachable = false;
      this.#follower.onReachable(false, why, refused);
    }
    this.#timer = setTimeout(() => this.open(), this.#wait);
    this.#wait = Math.min(this.#wait * 2, RETRY_CAP_MS);
  }

  #found(): void {
    this.#wait = RETRY_FIRST_MS;
    if (!this.#reachable) {
      this.#reachable = true;
      this.#follower.onReachable(true, 'watch open again');
    }
  }

  /** The watch fell behind a compaction: what the key holds now, then watch on from there. */
  async #reread(): Promise<void> {
    try {
      const read = await this.#client.range(this.#key);
      if (this.#stopped) return;
      const kv = read.kvs[0];
      if (kv === undefined) this.#follower.onValue(undefined, read.revision);
      else if (this.#next === undefined || kv.modRevision >= this.#next)
        this.#follower.onValue(kv, kv.modRevision);
      this.#next = read.revision + 1;
      this.#found();
      this.open();
    } catch (err) {
      this.#lost((err as Error).message, refusedBy(err));
    }
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
    const end = () => {
      ended = true;
      stopThis?.();
      if (this.#stopWatch === stopThis) this.#stopWatch = undefined;
    };
    this.#client
      .watch(this.#key, from, {
        // Reachable once etcd created the watch, not when a connection answered: what answers
        // there may be no etcd (a proxy's page), and would be taken for it again and again.
        onCreated: () => {
          if (!ended && !this.#stopped) this.#found();
        },
        onEvents: (events) => {
          for (const event of events) {
            const revision = event.type === 'put' ? event.kv.modRevision : event.revision;
            if (revision < (this.#next ?? 0)) continue;
            this.#next = revision + 1;
            this.#follower.onValue(event.type === 'put' ? event.kv : undefined, revision);
          }
        },
        onCompacted: () => {
          end();
          if (!this.#stopped) void this.#reread();
        },
        onEnd: (why) => {
          end();
          this.#lost(why);
        },
      })
      .then(
        (stop) => {
          stopThis = stop;
          if (this.#stopped || ended) return stop();
          this.#stopWatch = stop;
        },
        (err: Error) => this.#lost(err.message, refusedBy(err)),
      );
  }
}

/** etcd answered, and refused this client (EtcdError `refused`): not etcd being away. */
function refusedBy(err: unknown): boolean {
  return err instanceof EtcdError && err.kind === 'refused';
}
