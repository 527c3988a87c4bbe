/**
 * One key followed for as long as it is wanted: watched from a revision, the watch opened again
 * (from the revision after the last one seen) whenever it ends, and, when etcd compacted past
 * that revision, the key read afresh so that the latest value is never missed. Reports whether
 * etcd is reachable, and since when it is not.
 */
import type { EtcdClient, KeyValue } from './etcd-client.ts';

export interface KeyFollower {
  /** The key's value at a revision (undefined: deleted), in revision order, never older than the last. */
  onValue(kv: KeyValue | undefined, revision: number): void;
  /** etcd became unreachable (`since`, why) or reachable again (`since` undefined). */
  onReachable(reachable: boolean, why: string): void;
}

/** Waits between two tries to open the watch again, doubling to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_CAP_MS = 2_000;

/**
 * Follows `key` from `fromRevision` (the first revision not yet seen). Returns its stop.
 *
 * @example const stop = followKey(client, '/candor/config', read.revision + 1, follower);
 */
export function followKey(
  client: EtcdClient,
  key: string,
  fromRevision: number,
  follower: KeyFollower,
): () => void {
  let next = fromRevision;
  let stopped = false;
  let stopWatch: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let wait = RETRY_FIRST_MS;
  let reachable = true;

  const lost = (why: string) => {
    stopWatch = undefined;
    if (stopped) return;
    if (reachable) {
      reachable = false;
      follower.onReachable(false, why);
    }
    timer = setTimeout(open, wait);
    wait = Math.min(wait * 2, RETRY_CAP_MS);
  };
  const found = () => {
    wait = RETRY_FIRST_MS;
    if (!reachable) {
      reachable = true;
      follower.onReachable(true, 'watch open again');
    }
  };
  /** The watch fell behind a compaction: what the key holds now, then watch on from there. */
  const reread = async () => {
    try {
      const read = await client.range(key);
      if (stopped) return;
      const kv = read.kvs[0];
      if (kv === undefined) follower.onValue(undefined, read.revision);
      else if (kv.modRevision >= next) follower.onValue(kv, kv.modRevision);
      next = read.revision + 1;
      found();
      open();
    } catch (err) {
      lost((err as Error).message);
    }
  };
  const open = () => {
    if (stopped) return;
    // This stream's own end: a compaction's cancel or the connection's end closes it, whichever
    // comes first, and etcd would otherwise keep the canceled stream's connection open.
    let ended = false;
    let stopThis: (() => void) | undefined;
    const end = () => {
      ended = true;
      stopThis?.();
      if (stopWatch === stopThis) stopWatch = undefined;
    };
    client
      .watch(key, next, {
        onEvents(events) {
          for (const event of events) {
            const revision = event.type === 'put' ? event.kv.modRevision : event.revision;
            if (revision < next) continue;
            next = revision + 1;
            follower.onValue(event.type === 'put' ? event.kv : undefined, revision);
          }
        },
        onCompacted() {
          end();
          if (!stopped) void reread();
        },
        onEnd(why) {
          end();
          lost(why);
        },
      })
      .then(
        (stop) => {
          stopThis = stop;
          if (stopped || ended) return stop();
          stopWatch = stop;
          found();
        },
        (err: Error) => lost(err.message),
      );
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    stopWatch?.();
  };
}
