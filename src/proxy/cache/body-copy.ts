import type { BodyCopy } from '../stages/stage.ts';

/**
 * What the copies in flight of one store may hold together (a route's cache: its max_size), so
 * that many answers on their way to it at once (slow upstreams, a miss for each of many keys) do
 * not hold max_entry each without a bound: a copy that finds no room left is dropped.
 */
export interface CopyBudget {
  /** Takes `bytes` more for a copy; false when the copies in flight hold the budget's worth already. */
  take(bytes: number): boolean;
  give(bytes: number): void;
}

/** A body copy that holds part of a budget: `release` (its response closed, whole or cut) gives back what it holds, and copies no more. */
export interface BudgetedCopy extends BodyCopy {
  release(): void;
}

/**
 * A copy of a body of at most `max` bytes: `over` is called once, with the whole body at its end,
 * or with undefined as soon as it goes past `max`, or past what `budget` has room for (the copy
 * is dropped; the client still gets every byte): a body without Content-Length tells its size
 * only as it comes, and what waits for the copy (requests of the same key) need not wait for the
 * end of one that will not be kept.
 */
export function boundedCopy(
  max: number,
  over: (body: Buffer | undefined) => void,
  budget?: CopyBudget,
): BudgetedCopy {
  const chunks: Buffer[] = [];
  let size = 0;
  let held = 0;
  let dropped = false;
  const release = () => {
    budget?.give(held);
    held = 0;
  };
  return {
    add: (chunk) => {
      if (dropped) return;
      size += chunk.length;
      if (size <= max && (budget === undefined || budget.take(chunk.length))) {
        held += budget === undefined ? 0 : chunk.length;
        return void chunks.push(chunk);
      }
      dropped = true;
      chunks.length = 0;
      release();
      over(undefined);
    },
    end: () => {
      if (dropped) return;
      dropped = true;
      // Memory of its own, exactly its size: Buffer.concat takes a body under 4 KiB from Node's
      // shared 8 KiB pool, and a stored one kept its slab alive (895 bytes a 2-byte answer held,
      // measured, up to the whole 8 KiB), memory max_size never counted.
      const body = Buffer.allocUnsafeSlow(size);
      let at = 0;
      for (const chunk of chunks) at += chunk.copy(body, at);
      chunks.length = 0;
      release();
      over(body);
    },
    // The response closed: whatever still comes is not copied (it could take room never given back).
    release: () => {
      dropped = true;
      chunks.length = 0;
      release();
    },
  };
}
