// The primary's half of a purge's count (purge-tally.ts is the workers'): no node:crypto here,
// which the primary has no other use for (test/server/cli/lean-processes.test.ts).

/**
 * The answers a purge dropped in every worker, each counted once however many workers held it
 * (each worker keeps its own in memory; the shared directory's file and a worker's copy are one).
 * Exact when every worker named what it dropped (`removed`); when one dropped more than
 * PURGE_IDS_MAX, the fewest it can have been (the ids named, or the largest worker's count) and
 * the most (`removedAtMost`: each worker's count added, as if no two held the same answer).
 */
export function mergePurged(
  answers: readonly { readonly removed: number; readonly ids?: readonly string[] }[],
): {
  removed: number;
  removedAtMost?: number;
} {
  const union = new Set<string>();
  let exact = true;
  let largest = 0;
  let sum = 0;
  for (const { removed, ids } of answers) {
    largest = Math.max(largest, removed);
    sum += removed;
    if (ids === undefined) exact = false;
    else for (const id of ids) union.add(id);
  }
  if (exact) return { removed: union.size };
  const fewest = Math.max(union.size, largest);
  return fewest === sum ? { removed: sum } : { removed: fewest, removedAtMost: sum };
}
