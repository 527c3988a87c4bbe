/**
 * Holds the event loop for `ms` once the first attempt to `targets` is over (their in-flight
 * counts went up and down again: its retry's backoff was set in that same turn), as a busy
 * process would: a backoff and a deadline that passes within it are both due when it lets go.
 */
export function holdLoopAfterFirstAttempt(
  targets: ReadonlyArray<{ readonly active: { readonly count: number } }>,
  ms: number,
): void {
  const inFlight = () => targets.reduce((n, target) => n + target.active.count, 0);
  let started = false;
  const watch = () => {
    if (inFlight() > 0) started = true;
    else if (started) {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return;
    }
    setImmediate(watch);
  };
  setImmediate(watch);
}
