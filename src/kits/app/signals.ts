/**
 * The stop signals: the first starts the shutdown, a second one during it ends it at once (the
 * deadline comes now), as `candor serve` does; once over, the process exits if asked to.
 *
 * One process may hold several apps (`attach` takes one server each: the app and its metrics
 * port, HTTP beside HTTPS), each with its handlers on the same signal. The process exits once
 * every shutdown the signal started is over, not at the first: an app with nothing in flight is
 * over at once, and its exit would cut the other's requests and skip its cleanup.
 */
interface SignalTarget {
  shutdown(reason: string): Promise<{ readonly cleanupFailures: number }>;
  /** Brings the deadline forward to now. */
  hurry(): void;
}

/** The shutdowns stop signals started in this process and not over yet. */
const stopping = new Set<Promise<unknown>>();
/** Whether one of them had a cleanup fail (the exit code says so, whichever app is over last). */
let cleanupFailed = false;
/** Whether one of the apps they stopped asked for the exit (the last one over does it for it). */
let exitAsked = false;

/** Installs the handlers; returns their removal. */
export function onStopSignals(
  signals: readonly NodeJS.Signals[],
  target: SignalTarget,
  exit: boolean,
): () => void {
  let received = false;
  const remove = () => {
    for (const signal of signals) process.removeListener(signal, handle);
  };
  const handle = (signal: NodeJS.Signals) => {
    if (received) return target.hurry();
    received = true;
    exitAsked ||= exit;
    const shutdown = target.shutdown(signal);
    stopping.add(shutdown);
    void shutdown.then((report) => {
      remove();
      stopping.delete(shutdown);
      // A cleanup that failed is the one thing a supervisor should hear about.
      if (report.cleanupFailures > 0) cleanupFailed = true;
      if (exitAsked && stopping.size === 0) process.exit(cleanupFailed ? 1 : 0);
    });
  };
  for (const signal of signals) process.on(signal, handle);
  return remove;
}
