/** How often, at most, a flood of one kind of event is told. */
const REPORT_MS = 1_000;

/** The reporters holding events not told yet: a closing gateway tells them (flushReports). */
const pending = new Set<() => void>();

/**
 * `report`, at once for the first event of a quiet spell, then at most once a second with the
 * last event and how many came since: a flood of refused connections (or of anything told this way) is not a flood of lines.
 */
export function reportEverySecond<T>(report: (last: T, count: number) => void): (event: T) => void {
  let waiting = false;
  let count = 0;
  let last: T;
  const tell = (): void => {
    pending.delete(tell);
    if (count === 0) return;
    report(last, count);
    count = 0;
  };
  return (event) => {
    last = event;
    if (waiting) {
      if (count++ === 0) pending.add(tell);
      return;
    }
    report(event, 1);
    waiting = true;
    setTimeout(function flush() {
      if (count === 0) {
        waiting = false;
        return;
      }
      tell();
      setTimeout(flush, REPORT_MS).unref();
    }, REPORT_MS).unref();
  };
}

/**
 * Tells now what every reporter holds for its next second: the process is about to end, and its
 * unref'd timers with it (a flood of refusals in the last second of a drain was never told).
 */
export function flushReports(): void {
  for (const tell of [...pending]) tell();
}
