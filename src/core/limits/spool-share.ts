/**
 * The room `limits.spool.max_total` must have left for a response to begin spooling: one
 * upstream read's worth (spool-space.ts). A total, or a worker's share of it (worker-share.ts:
 * each worker spools against ⌊max_total/N⌋), under it never spools: said by `candor check` and
 * at `serve`'s start, for the bound is accepted and silently does nothing.
 */
export const SPOOL_ROOM_TO_BEGIN = 64 * 1024;

/**
 * Why `maxTotal` split among `workers` spools nothing (its smallest share is under the room a
 * response needs to begin), or undefined when every share can spool; 0 is a spool turned off.
 */
export function spoolShareTooSmall(maxTotal: number, workers: number): string | undefined {
  const share = Math.floor(maxTotal / workers);
  if (maxTotal === 0 || share >= SPOOL_ROOM_TO_BEGIN) return undefined;
  const never = `under the 64 KiB a response needs to begin spooling: no response is spooled (a slow reader's upstream waits for it as without a spool)`;
  if (workers === 1) return `${maxTotal} bytes is ${never}`;
  return `${maxTotal} bytes split among ${workers} workers leaves each ${share}, ${never}; give it at least ${workers} × 64 KiB (${workers * 64}KiB), or run fewer workers`;
}
