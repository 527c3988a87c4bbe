import type { PrimaryFamily } from '../../observe/metrics/cluster.ts';

/**
 * The workers that died while the gateway ran (not in a drain), by how they ended: what the
 * log line `worker exited: starting another` says, kept where a scrape reads it. A crash loop
 * or an OOM killer at work otherwise showed in no metric: the replacement's counts carry on
 * from the dead worker's, the backoff hides the gap, and an alert had only the log to read.
 * The primary counts them, so a worker's death never takes its own count with it.
 */
const exits = new Map<string, number>();

/** One worker died outside a drain: `exit` is the signal that ended it, or its exit code. */
export function countWorkerExit(exit: string | number): void {
  const key = String(exit);
  exits.set(key, (exits.get(key) ?? 0) + 1);
}

/** candor_worker_exits_total, as the primary adds it to the workers' merged metrics. */
export function workerExits(): PrimaryFamily {
  return { metric: 'workerExits', values: [...exits].map(([exit, value]) => ({ value, labels: { exit } })) };
}
