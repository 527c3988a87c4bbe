/**
 * What a route's cache asks of the forward step for one request (the session's cache run is
 * one): validators to send, a say over an upstream's answer before it is relayed, and a copy of
 * the body as it streams to the client. A route without a cache has none: one undefined check.
 */
export interface ResponseStore {
  /** Fields the request carries besides the client's: the stored answer's validators (If-None-Match, If-Modified-Since). */
  readonly validators: readonly string[];
  /**
   * The upstream's final head, before anything went downstream: the answer to give instead (a
   * stored answer in place of the upstream's 5xx, or the stored answer a 304 confirmed), run
   * once the attempt is over; undefined to relay the upstream's.
   */
  insteadOf(status: number, fields: readonly string[]): (() => void) | undefined;
  /**
   * The upstream's head went downstream (in HTTP `version`): where its body is copied to be
   * stored; undefined when it will not be.
   */
  keep(status: number, reason: string, fields: readonly string[], version: string): BodyCopy | undefined;
}

/** A bounded copy of a response body on its way to the client: stored only when it ends whole. */
export interface BodyCopy {
  add(chunk: Buffer): void;
  /** The upstream's framing said the body is whole. */
  end(): void;
}

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
export interface HeldCopy extends BodyCopy {
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
): HeldCopy {
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
      const body = Buffer.concat(chunks, size);
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
