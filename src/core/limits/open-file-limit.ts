import { sliceOf } from './worker-share.ts';

// node:fs through process.getBuiltinModule, not an import: as an ES module it loads fs/promises
// and readline as well, which the primary (which reads this at its start) does not otherwise
// (test/server/cli/lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');

/**
 * The descriptors a worker's listeners may want against the ones its process may open. libuv
 * closes a connection it has no descriptor for as it accepts it (its EMFILE trick: a spare
 * descriptor freed, the waiting connections accepted and closed), and Node never hears of it: the
 * gateway can neither log nor count those connections. What it can do is say, once at its start,
 * that its listeners' `max_connections` passes the open-file limit, as nginx says "worker_connections
 * exceed open file resource limit". Each connection may hold a second descriptor, its upstream's.
 */

/**
 * This process's open-file limit: its soft RLIMIT_NOFILE, which Node raised to the hard one at its
 * start (a worker, forked the same way, gets the same), read from Linux's /proc; undefined elsewhere.
 */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)?.[1];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
}

/** What a worker may hold, against the limit: undefined when its listeners' connections fit. */
export function connectionsPastOpenFiles(
  listen: readonly { readonly maxConnections: number }[],
  workers: number,
  limit: number | undefined,
): { max_connections: number; worker_share?: number; open_file_limit: number } | undefined {
  if (limit === undefined) return undefined;
  const total = listen.reduce((sum, l) => sum + l.maxConnections, 0);
  // Worker 0 holds the largest slice of each (worker-share.ts).
  const share = listen.reduce(
    (sum, l) => sum + Math.max(1, sliceOf(l.maxConnections, { index: 0, of: workers })),
    0,
  );
  if (share <= limit) return undefined;
  return workers === 1
    ? { max_connections: total, open_file_limit: limit }
    : { max_connections: total, worker_share: share, open_file_limit: limit };
}

export const OPEN_FILES_TOO_FEW =
  "the listeners' max_connections pass the open-file limit (ulimit -n) of a worker, which each connection's upstream connection, the cache, spool and log files share: past it the system closes new connections as they come, before the gateway sees them, and nothing logs or counts them; raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n) or lower max_connections";
