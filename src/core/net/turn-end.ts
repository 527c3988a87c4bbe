/**
 * Writes held until the end of the event-loop turn (the check phase, after every I/O
 * callback of the turn has run), so that the turn's writes leave in one burst.
 *
 * Why: a write to a peer that sleeps in epoll wakes it, and on another CPU that wake-up (an
 * inter-processor interrupt; under a hypervisor, an exit to it) costs more than the write.
 * Spread over the turn, every request's write wakes the upstream (and every response's wakes
 * the client) again; bunched at the end, one wake-up serves them all. Measured on the 2-core
 * bench VM: CPU per proxied request down by about a third (README, Benchmarks).
 *
 * The queue is flat (callback, argument, callback, argument…) so holding a write allocates
 * nothing.
 */
type Deferred<T> = (arg: T) => void;

let held: unknown[] = [];
let scheduled = false;

export function atTurnEnd<T>(callback: Deferred<T>, arg: T): void {
  held.push(callback, arg);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runDeferred);
  }
}

function runDeferred(): void {
  scheduled = false;
  // Swapped before running: what a callback holds goes to the next turn's list.
  const batch = held;
  held = [];
  for (let i = 0; i < batch.length; i += 2) {
    try {
      (batch[i] as Deferred<unknown>)(batch[i + 1]);
    } catch (err) {
      // A bug in one held write must not cost the others theirs (nor the process its life):
      // that one exchange is cut, the rest of the batch still goes out.
      (batch[i + 1] as { destroy?: () => void } | null)?.destroy?.();
      process.emitWarning(`candor: a write held for the end of the turn failed: ${(err as Error).stack}`);
    }
  }
}

/** Corks a socket until the end of the turn. */
export function corkUntilTurnEnd(socket: { cork(): void; uncork(): void }): void {
  socket.cork();
  atTurnEnd(uncork, socket);
}

function uncork(socket: { uncork(): void }): void {
  socket.uncork();
}
