/**
 * The stop signals: the first starts the shutdown, a second one during it ends it at once (the
 * deadline comes now), as `candor serve` does; once over, the process exits if asked to.
 */
interface SignalTarget {
  shutdown(reason: string): Promise<{ readonly cleanupFailures: number }>;
  /** Brings the deadline forward to now. */
  hurry(): void;
}

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
    void target.shutdown(signal).then((report) => {
      remove();
      // A cleanup that failed is the one thing a supervisor should hear about.
      if (exit) process.exit(report.cleanupFailures > 0 ? 1 : 0);
    });
  };
  for (const signal of signals) process.on(signal, handle);
  return remove;
}
