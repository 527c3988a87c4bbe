/**
 * The log line of a revision a gateway applied: what it was applied as, and, when the reload was
 * incomplete, which workers did not confirm the swap. Said as applied (the primary runs it, and
 * a worker that answers late swaps to it) but at `warn`: until then those workers serve the
 * config before, which a plain "applied" at `info` would hide.
 */
/** How a revision came to be applied (fleet-source.ts's Wanted.how). */
type How = 'follow' | 'sync' | 'canary' | 'back';

export function appliedLine(
  revision: number,
  how: How,
  /** The reload's answer (fleet-source.ts's ReloadAnswer), as far as this line reads it. */
  answer: {
    readonly result: string;
    readonly workers?: { readonly failed: readonly { id: number; reason: string }[] };
  },
): { level: 'info' | 'warn'; msg: string } {
  const what =
    how === 'canary'
      ? `config revision ${revision} applied as a canary`
      : how === 'back'
        ? `config revision ${revision} applied again: the canary rolled back`
        : `config revision ${revision} applied`;
  const failed = answer.workers?.failed ?? [];
  if (answer.result !== 'incomplete' || failed.length === 0) return { level: 'info', msg: what };
  const workers = failed.map(({ id, reason }) => `worker ${id} (${reason})`).join(', ');
  return {
    level: 'warn',
    msg: `${what}, but not by every worker yet: ${workers} did not confirm the swap, and serves the config before until it does`,
  };
}
